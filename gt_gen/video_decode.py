"""Whole-video decoding with PyAV, giving the pixels OpenCV gives (sglang's key-frame path).

Why these settings: sglang reads key frames with OpenCV, whose FFmpeg backend converts each
frame to BGR24 with libswscale's bicubic scaler and the *frame's own* colour matrix tag
(BT.709 when tagged so, BT.601 when untagged). PyAV's default conversion (RGB24, bilinear)
differs from that on 10-bit video by up to ~48 levels, and a BT.601 override differs on
BT.709-tagged video by ~36. Converting to BGR24 with the bicubic scaler and the frame's tag
gave OpenCV's pixels exactly on every input we tried (8/10-bit, 4:2:0/4:2:2/4:4:4, odd
sizes, BT.709/BT.601/BT.2020 tags, full and limited range, B-frames, VFR); the per-frame
curves are then the key-frame metrics at the key indices, which compare checks per case.

``matrix``: ``auto`` (default) follows the frame's tag as OpenCV does; ``bt601`` / ``bt709``
force one matrix on both sides (then the key indices may differ from the key-frame verdict,
and results.json says so).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gt_gen.errors import InputFileError, MissingFileError

MATRICES = ("auto", "bt601", "bt709")
_AV_NAMES = {"bt601": "ITU601", "bt709": "ITU709"}
#: FFmpeg's AVColorSpace values (PyAV >= 14 reports them as integers) -> the matrix used.
_TAGS = {0: "rgb", 1: "bt709", 2: "unspecified", 4: "fcc", 5: "bt601", 6: "bt601",
         7: "smpte240m", 8: "ycgco", 9: "bt2020", 10: "bt2020"}


@dataclass
class DecodedVideo:
    """Every frame as RGB uint8, with what decided the colours.

    ``tag``: the stream's colour-space tag (``bt709``, ``unspecified``, ...); ``matrix``:
    the matrix actually used (``auto`` follows the tag; untagged is BT.601, as libswscale);
    ``declared``: the frame count the container declares (0: not declared)."""

    frames: list[np.ndarray]
    tag: str
    matrix: str
    declared: int


def describe(matrix: str) -> dict[str, str]:
    import av

    return {"name": "pyav", "version": av.__version__,
            "libavcodec": ".".join(map(str, av.library_versions.get("libavcodec", ()))),
            "colour_matrix": matrix, "conversion": "bgr24, bicubic (as OpenCV) -> rgb"}


def tag_name(colorspace: object) -> str:
    """A stream's colour-space tag by name, from PyAV's integer (or an older enum/string)."""
    if isinstance(colorspace, int):
        return _TAGS.get(colorspace, f"colorspace {colorspace}")
    text = str(getattr(colorspace, "name", colorspace) or "").lower()
    for key in ("709", "2020", "240"):
        if key in text:
            return {"709": "bt709", "2020": "bt2020", "240": "smpte240m"}[key]
    return "bt601" if ("601" in text or "470" in text or "170" in text) else "unspecified"


def matrix_of_tag(tag: str) -> str:
    """The matrix libswscale applies for a stream tag (untagged: BT.601)."""
    return {"unspecified": "bt601", "rgb": "bt601"}.get(tag, tag)


def decode_all(video: str | Path | bytes, matrix: str = "auto", *,
               where: str | Path | None = None) -> DecodedVideo:
    """Decode every frame of ``video`` (a path or the file's bytes); ``where`` names it in
    errors (the user's file or GT relpath, never a temporary copy)."""
    import av

    if matrix not in MATRICES:
        raise InputFileError(f"unknown colour matrix {matrix!r}; use one of {list(MATRICES)}")
    name = str(where if where is not None else video if not isinstance(video, bytes) else "video")
    if isinstance(video, bytes):
        if not video:
            raise InputFileError("video file is empty; regenerate it", path=name)
        src: object = io.BytesIO(video)
    else:
        if not Path(video).is_file():
            raise MissingFileError("video not found", path=name)
        src = str(video)
    frames: list[np.ndarray] = []
    forced = _AV_NAMES.get(matrix)  # None: the frame's own tag, as OpenCV
    try:
        with av.open(src, mode="r") as container:  # type: ignore[call-overload]
            if not container.streams.video:
                raise InputFileError("file has no video stream; regenerate it", path=name)
            stream = container.streams.video[0]
            # Frame threads: FFmpeg's decoder output does not depend on its thread count, and
            # decoding is most of a whole-video compare (issue 14: decode with threads).
            stream.thread_type = "AUTO"
            tag = tag_name(stream.codec_context.colorspace)
            declared = int(stream.frames or 0)
            for frame in container.decode(stream):
                bgr = frame.reformat(format="bgr24", interpolation="BICUBIC",
                                     src_colorspace=forced, dst_colorspace=forced).to_ndarray()
                frames.append(np.ascontiguousarray(bgr[..., ::-1]))
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        if isinstance(exc, InputFileError):
            raise
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputFileError(f"cannot decode video ({why}); regenerate it", path=name) from exc
    if not frames:
        raise InputFileError("video has no decodable frames; regenerate it", path=name)
    if declared and len(frames) < declared:
        raise InputFileError(f"decoded {len(frames)} of {declared} frames (truncated video); "
                             "regenerate it", path=name)
    return DecodedVideo(frames=frames, tag=tag, matrix=matrix_of_tag(tag) if matrix == "auto" else matrix,
                        declared=declared)
