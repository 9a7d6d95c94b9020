"""Frames in, RGB uint8 arrays out: key frames of an mp4, images, key-frame PNG folders.

Read exactly as sglang's diffusion CI reads them (``python/sglang/multimodal_gen/test/
test_utils.py``, ``server/consistency_utils.py``), so the numbers are comparable with theirs:

* video key frames with OpenCV by seeking (``CAP_PROP_POS_FRAMES``) to indices 0,
  ``total // 2`` and ``total - 1``, BGR -> RGB. A 1-frame video's key frames are 0, 0, 0: each
  distinct index is read once (OpenCV cannot seek back to frame 0 of a 1-frame mp4, so a
  second read would fail on a valid file);
* images (GT PNG/JPEG/WebP and image outputs) with PIL, ``Image.open(...).convert("RGB")``:
  RGBA, LA, L, I;16, CMYK and palette files are accepted and converted exactly as PIL does
  (alpha is dropped, not composited); what was converted is recorded in
  :attr:`FrameSet.modes` for results.json. A plain 8-bit RGB PNG (what GT key frames are)
  is decoded by libpng instead, twice as fast, with the same pixels (:mod:`gt_gen.png_rgb8`).

Every failure becomes one :class:`InputFileError` line that names the file and the fix;
nothing here writes files.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import cv2  # OpenCV's and FFmpeg's log levels are set by gt_gen/__init__.py, imported first

from gt_gen.errors import InputFileError, MissingFileError

KEY_FRAMES = ("first", "mid", "last")


class FrameSet(dict[str, np.ndarray]):
    """Frames by key (``first``/``mid``/``last``), with where each came from and how.

    ``sources``: key -> the file (or GT relpath) it was read from, for messages.
    ``modes``: key -> PIL's conversion of an image (``"RGBA->RGB"``, or ``"RGB"`` when none
    was needed); absent for video frames. ``indices``: key -> frame index in its video
    (videos only); ``total``: the video's frame count as OpenCV reports it."""

    def __init__(self, frames: dict[str, np.ndarray] | None = None, *,
                 sources: dict[str, str] | None = None, modes: dict[str, str] | None = None,
                 indices: dict[str, int] | None = None, total: int | None = None) -> None:
        super().__init__(frames or {})
        self.sources = dict(sources or {})
        self.modes = dict(modes or {})
        self.indices = dict(indices or {})
        self.total = total

    def mode_summary(self) -> str | None:
        """The conversions of these frames, e.g. ``"RGBA->RGB"`` (distinct ones joined by
        ``", "``), or None for video frames."""
        seen = list(dict.fromkeys(self.modes[k] for k in self if k in self.modes))
        return ", ".join(seen) if seen else None


def key_frame_indices(total: int, keys: tuple[str, ...] = KEY_FRAMES) -> dict[str, int]:
    """sglang's key frames: 0, ``total // 2``, ``total - 1``."""
    table = {"first": 0, "mid": total // 2, "last": total - 1}
    return {k: table[k] for k in keys}


def _bgr_to_rgb(img: np.ndarray | None, path: Path) -> np.ndarray:
    if img is None or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise InputFileError("cannot decode video frame (corrupt video); regenerate it",
                             path=path)
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def read_image(path: str | Path) -> np.ndarray:
    """An RGB uint8 HxWx3 array from a PNG/JPEG/WebP file (PIL, ``.convert("RGB")``)."""
    return read_image_with_mode(path)[0]


def read_image_with_mode(path: str | Path) -> tuple[np.ndarray, str]:
    """:func:`read_image` and the conversion PIL did (``"RGBA->RGB"``, ``"RGB"``)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError("image not found", path=path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read image ({exc.strerror or type(exc).__name__})",
                             path=path) from exc
    return decode_image_with_mode(data, path)


def decode_image(data: bytes, where: str | Path) -> np.ndarray:
    """An RGB uint8 HxWx3 array from encoded image bytes (``where`` names them in errors)."""
    return decode_image_with_mode(data, where)[0]


def decode_image_with_mode(data: bytes, where: str | Path) -> tuple[np.ndarray, str]:
    """:func:`decode_image` and the conversion PIL did.

    PIL's decompression-bomb guard stays on: an image declaring more than twice
    ``Image.MAX_IMAGE_PIXELS`` pixels is refused before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InputFileError("image file is empty; regenerate it", path=where)
    from gt_gen import png_rgb8

    plain = png_rgb8.decode(data)  # the same pixels, faster; None: PIL reads it (module doc)
    if plain is not None:
        return plain, "RGB"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                mode = img.mode
                if mode == "RGB":  # nothing to convert: one copy, not convert()'s and np.array's
                    img.load()
                    rgb = np.asarray(img)
                else:
                    rgb = np.array(img.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise InputFileError(f"image declares too many pixels to decode safely ({exc}); "
                             "not an image gt-gen will read", path=where) from exc
    except UnidentifiedImageError as exc:
        raise InputFileError("cannot decode image (not an image PIL can read); regenerate or "
                             "re-download it", path=where) from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise InputFileError(f"cannot decode image (corrupt or truncated: {why}); regenerate "
                             "or re-download it", path=where) from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or 0 in rgb.shape:
        raise InputFileError(f"image decoded to an unusable array {rgb.dtype} {rgb.shape}",
                             path=where)
    return np.ascontiguousarray(rgb), (mode if mode == "RGB" else f"{mode}->RGB")


def _capture(path: Path, threads: int | None) -> cv2.VideoCapture:
    """OpenCV's capture of ``path`` as sglang opens it; with ``threads``, FFmpeg decodes on that
    many threads (the pixels do not depend on it). A capture that does not open with the
    thread count is opened again as sglang opens it, so a file opens (or fails) exactly as
    before."""
    if threads is not None:
        cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
        if cap.isOpened():
            return cap
        cap.release()
    return cv2.VideoCapture(str(path))


def _open_video(path: Path, threads: int | None = None) -> tuple[cv2.VideoCapture, int]:
    if not path.is_file():
        raise MissingFileError("video not found", path=path)
    if path.stat().st_size == 0:
        raise InputFileError("video file is empty; regenerate it", path=path)
    cap = _capture(path, threads)
    if not cap.isOpened():
        raise InputFileError("cannot open video (corrupt or not a video); regenerate it",
                             path=path)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if total <= 0:
        cap.release()
        raise InputFileError("video has no frames; regenerate it", path=path)
    return cap, total


def video_frame_count(path: str | Path) -> int:
    cap, total = _open_video(Path(path))
    cap.release()
    return total


def read_key_frames(path: str | Path, keys: tuple[str, ...] = KEY_FRAMES,
                    where: str | Path | None = None, *, how: str = "auto",
                    threads: int | None = None) -> FrameSet:
    """Key frames of an mp4, read as sglang does (OpenCV, seek by frame index, in the order
    first, mid, last). Each distinct index is read once; ``where`` names the file in errors
    when ``path`` is a temporary copy.

    ``how``: ``seek`` (sglang's calls), ``sequential`` (one pass from the start, decoding
    without converting up to the last key frame), or ``auto``: sequential where it provably
    gives the seek's frames (:func:`gt_gen.keyframe_reuse.seeks_are_sequential`), else seek.
    A sequential pass that fails is redone by seeking, so errors are the seek's.

    ``threads``: FFmpeg's decoder threads (None: OpenCV's count, a thread per CPU). One for a
    single early frame read beside other work (:func:`gt_gen.compare.read_first_frame`): a
    frame-threaded decoder probes and decodes frames ahead of the one asked for (2-core VM,
    frame 0 of a 1536x1024 mp4: open ~19 ms of CPU with one thread against 40-58 ms with two;
    open, seek and read 111-128 ms against 134-145)."""
    path = Path(path)
    name = Path(where) if where is not None else path
    try:
        cap, total = _open_video(path, threads)
    except InputFileError as exc:
        raise InputFileError(str(exc), path=name) from exc
    indices = key_frame_indices(total, keys)
    wanted = list(dict.fromkeys(indices.values()))  # sglang's order: first, mid, last
    if len(wanted) < len(indices):
        # A 1- or 2-frame video: sglang seeks and reads every key, the same index again
        # included, and fails the case where OpenCV cannot read it twice (a 1-frame video's
        # frame 0: OpenCV does not seek back in a one-frame stream). Read exactly so.
        return _read_each_key(cap, indices, total, name)
    try:
        by_index: dict[int, np.ndarray] = {}
        from gt_gen.keyframe_reuse import seeks_are_sequential

        if how == "sequential" or (how == "auto" and len(wanted) > 1 and seeks_are_sequential(path, total)):
            for i in range(max(wanted) + 1):
                ok, frame = cap.read() if i in wanted else (cap.grab(), None)
                if not ok or (i in wanted and frame is None):
                    break
                if i in wanted:
                    by_index[i] = _bgr_to_rgb(frame, name)
            if len(by_index) != len(wanted):  # redone by seeking, on a fresh capture
                by_index.clear()
                cap.release()
                cap, _ = _open_video(path, threads)
        for index in wanted if not by_index else ():
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            if not ok or frame is None:
                raise InputFileError(f"cannot read frame {index} of {total} (truncated or "
                                     "corrupt video); regenerate it", path=name)
            by_index[index] = _bgr_to_rgb(frame, name)
    finally:
        cap.release()
    return FrameSet({k: by_index[i] for k, i in indices.items()},
                    sources={k: str(name) for k in indices}, indices=indices, total=total)


def _read_each_key(cap: Any, indices: dict[str, int], total: int, name: Path) -> FrameSet:
    """Each key read by its own seek, in sglang's order (first, mid, last), no index skipped
    for having been read before; the first read that fails is sglang's error. Releases
    ``cap``."""
    got: dict[str, np.ndarray] = {}
    try:
        for key, index in indices.items():
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            if not ok or frame is None:
                raise InputFileError(f"cannot read frame {index} of {total} for key frame {key!r} "
                                     "(OpenCV's seek, as sglang reads it, fails on this video); "
                                     "regenerate it", path=name)
            got[key] = _bgr_to_rgb(frame, name)
    finally:
        cap.release()
    return FrameSet(got, sources={k: str(name) for k in indices}, indices=indices, total=total)


def read_all_frames(path: str | Path) -> list[np.ndarray]:
    """Every frame of a video, in order, read sequentially with OpenCV."""
    path = Path(path)
    cap, total = _open_video(path)
    frames: list[np.ndarray] = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(_bgr_to_rgb(frame, path))
    finally:
        cap.release()
    if not frames:
        raise InputFileError("video has no decodable frames; regenerate it", path=path)
    if len(frames) < total:
        raise InputFileError(f"decoded {len(frames)} of {total} frames (truncated video); "
                             "regenerate it", path=path)
    return frames


def read_key_frame_dir(folder: str | Path, names: dict[str, str]) -> FrameSet | None:
    """Key frames from PNGs in sglang naming; ``None`` unless *all* are present."""
    folder = Path(folder)
    paths = {k: folder / n for k, n in names.items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    out = FrameSet()
    for k, p in paths.items():
        out[k], out.modes[k] = read_image_with_mode(p)
        out.sources[k] = str(p)
    return out
