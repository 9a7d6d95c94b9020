"""Deflate (zlib streams) for PNGs: ISA-L's where it is installed, zlib's otherwise.

Why: every compare reads the GT key frames (three PNGs a case) and writes a preview PNG per
case, and on the 2-core runner zlib 1.2 was most of that: inflating one 768x512 key frame
took ~9 ms against ~4 ms with ISA-L, deflating a report preview ~20 ms against ~5 ms at a
similar size. Both produce and accept standard zlib streams, so a PNG written with one reads
with the other (and with PIL, libpng, browsers); only the compressed bytes differ, which is why
GT key frames, whose bytes are published and hashed, are still written by OpenCV
(:func:`gt_gen.reports.sidebyside.encode_png`), never by this.
"""

from __future__ import annotations

import zlib
from typing import Any

_impl: Any
try:  # ISA-L (the ``isal`` package, a dependency; optional on platforms without its wheels)
    from isal import isal_zlib as _impl
except ImportError:  # pragma: no cover - depends on the install
    _impl = zlib

#: The exceptions a damaged stream raises (ISA-L's are not zlib.error).
Error: tuple[type[BaseException], ...] = tuple({zlib.error, getattr(_impl, "error", zlib.error)})


def name() -> str:
    """Which library deflates here: ``isal`` or ``zlib``."""
    return "zlib" if _impl is zlib else "isal"


def decompressobj() -> Any:
    """A decompressor with zlib's interface (``decompress(data, max_length)``, ``eof``,
    ``unused_data``)."""
    return _impl.decompressobj()


def compress(data: bytes, level: int = 1) -> bytes:
    """A zlib stream of ``data`` (level 1: ISA-L's fastest that still matches strings; zlib's
    level 1 where ISA-L is missing)."""
    return _impl.compress(data, level)
