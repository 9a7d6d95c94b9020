"""Atomic file writes: a temp file in the same directory, fsync, then ``os.replace``.

Why: an interrupted run (Ctrl-C, OOM kill, runner cancelled) must never leave a file that
looks complete. ``os.replace`` within one directory is atomic on POSIX, so a reader sees
either the old file or the whole new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; move it into place only on success.

    The temp name keeps ``target``'s suffix (or ``suffix``) so that writers which pick a
    format from the extension (OpenCV, PyAV) still work.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sfx = suffix if suffix is not None else target.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{sfx}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; finished files get normal modes
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | Path, obj: Any, *, default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``obj`` as indented, key-sorted JSON (strict: NaN/inf are refused)."""
    text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False, default=default) + "\n"
    return write_text(target, text)


def sweep_stale(parent: Path, prefix: str, older_than: float = 3600.0) -> None:
    """Remove folders named ``prefix*`` in ``parent`` untouched for ``older_than`` seconds:
    what a process killed while building something beside its place (a fetch's staging folder,
    a git mirror being made) left behind. Younger ones may belong to a run going on now."""
    import shutil
    import time

    for stale in parent.glob(prefix + "*"):
        with contextlib.suppress(OSError):
            if stale.is_dir() and not stale.is_symlink() and time.time() - stale.stat().st_mtime > older_than:
                shutil.rmtree(stale)
