"""Whole-video decoding with PyAV, its YUV->RGB colour matrix set explicitly and recorded.

Why: decoders disagree on untagged video. The same file decoded with BT.601 and with
BT.709 coefficients differs by up to ~44 levels in saturated colours, which would swamp any
engine difference. Whole-video compares decode GT and candidate here, with one matrix
chosen explicitly (``auto`` reads the stream's tag and falls back to BT.601 for untagged
streams, as libswscale does) and written to results.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gt_gen.errors import InputFileError, MissingFileError

MATRICES = ("auto", "bt601", "bt709")
_AV_NAMES = {"bt601": "ITU601", "bt709": "ITU709"}


def describe(matrix: str) -> dict[str, str]:
    import av

    return {"name": "pyav", "version": av.__version__,
            "libavcodec": ".".join(map(str, av.library_versions.get("libavcodec", ()))),
            "colour_matrix": matrix, "output": "rgb24"}


def _stream_matrix(stream) -> str:
    cs = str(getattr(stream.codec_context, "colorspace", "") or "").lower()
    return "bt709" if "709" in cs else "bt601"


def decode_all(path: str | Path, matrix: str = "auto") -> tuple[list[np.ndarray], str]:
    """Every frame as RGB uint8, and the matrix actually used."""
    import av

    if matrix not in MATRICES:
        raise InputFileError(f"unknown colour matrix {matrix!r}; use one of {list(MATRICES)}")
    path = Path(path)
    if not path.is_file():
        raise MissingFileError("video not found", path=path)
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            used = _stream_matrix(stream) if matrix == "auto" else matrix
            for frame in container.decode(stream):
                rgb = frame.reformat(format="rgb24", src_colorspace=_AV_NAMES[used],
                                     dst_colorspace=_AV_NAMES[used])
                frames.append(rgb.to_ndarray())
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputFileError(f"cannot decode video ({type(exc).__name__}); regenerate it",
                             path=path) from exc
    if not frames:
        raise InputFileError("video has no decodable frames; regenerate it", path=path)
    return frames, used
