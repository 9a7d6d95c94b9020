"""Frames in, RGB uint8 arrays out: key frames of an mp4, images, key-frame PNG folders.

Why OpenCV with seeking for key frames: that is how sglang's CI reads them (indices 0,
``total // 2`` and ``total - 1``, ``CAP_PROP_POS_FRAMES``); reading the same way keeps our
numbers comparable with theirs. Every failure becomes one :class:`InputFileError` line that
names the file and the fix; nothing here writes files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg chatter would break one-line errors
import cv2  # noqa: E402  (the log level must be set before import)

from gt_gen.errors import InputFileError, MissingFileError  # noqa: E402

KEY_FRAMES = ("first", "mid", "last")


def key_frame_indices(total: int, keys: tuple[str, ...] = KEY_FRAMES) -> dict[str, int]:
    """sglang's key frames: 0, ``total // 2``, ``total - 1``."""
    table = {"first": 0, "mid": total // 2, "last": total - 1}
    return {k: table[k] for k in keys}


def _to_rgb(img: np.ndarray | None, path: Path) -> np.ndarray:
    if img is None:
        raise InputFileError("cannot decode image (corrupt, truncated or not an image); "
                             "regenerate or re-download it", path=path)
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        raise InputFileError("image is grayscale; GT and candidates must be RGB (save with 3 "
                             "channels)", path=path)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise InputFileError(f"unsupported image layout {img.shape}", path=path)
    if img.shape[2] == 4:
        raise InputFileError("image has an alpha channel (RGBA); save it as RGB without alpha",
                             path=path)
    if img.dtype != np.uint8:
        raise InputFileError(f"image is {img.dtype}, expected 8-bit; save it as 8-bit RGB",
                             path=path)
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def read_image(path: str | Path) -> np.ndarray:
    """An RGB uint8 HxWx3 array from a PNG/JPEG/WebP file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError("image not found", path=path)
    return decode_image(path.read_bytes(), path)


def decode_image(data: bytes, where: str | Path) -> np.ndarray:
    """An RGB uint8 HxWx3 array from encoded image bytes (``where`` names them in errors)."""
    if not data:
        raise InputFileError("image file is empty; regenerate it", path=where)
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    return _to_rgb(img, Path(where))


def _open_video(path: Path) -> tuple[cv2.VideoCapture, int]:
    if not path.is_file():
        raise MissingFileError("video not found", path=path)
    if path.stat().st_size == 0:
        raise InputFileError("video file is empty; regenerate it", path=path)
    cap = cv2.VideoCapture(str(path))
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


def read_key_frames(path: str | Path, keys: tuple[str, ...] = KEY_FRAMES) -> dict[str, np.ndarray]:
    """Key frames of an mp4, read as sglang does (OpenCV, seek by frame index)."""
    path = Path(path)
    cap, total = _open_video(path)
    try:
        out: dict[str, np.ndarray] = {}
        for key, index in key_frame_indices(total, keys).items():
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            if not ok or frame is None:
                raise InputFileError(f"cannot read frame {index} of {total} (truncated or "
                                     "corrupt video); regenerate it", path=path)
            out[key] = _to_rgb(frame, path)
        return out
    finally:
        cap.release()


def read_all_frames(path: str | Path) -> list[np.ndarray]:
    """Every frame of a video, in order (the all-frames mode)."""
    path = Path(path)
    cap, total = _open_video(path)
    frames: list[np.ndarray] = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(_to_rgb(frame, path))
    finally:
        cap.release()
    if not frames:
        raise InputFileError("video has no decodable frames; regenerate it", path=path)
    if len(frames) < total:
        raise InputFileError(f"decoded {len(frames)} of {total} frames (truncated video); "
                             "regenerate it", path=path)
    return frames


def read_key_frame_dir(folder: str | Path, names: dict[str, str]) -> dict[str, np.ndarray] | None:
    """Key frames from PNGs in sglang naming; ``None`` unless *all* are present."""
    folder = Path(folder)
    paths = {k: folder / n for k, n in names.items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    return {k: read_image(p) for k, p in paths.items()}
