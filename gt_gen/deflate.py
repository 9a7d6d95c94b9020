"""Deflate (zlib streams) for PNGs: zlib-ng inflates, ISA-L deflates (zlib where either is
missing).

Why: every compare reads the GT key frames (three PNGs a case) and writes a preview PNG per
case, and on the 2-core runner zlib 1.2 was most of that.

* Inflating decides which damaged files are read, so it is done by the inflater PIL itself
  uses: Pillow's wheels inflate with zlib-ng, which accepts and refuses what zlib does.
  ISA-L's inflate is faster still (~4 ms against ~7 for a 768x512 key frame; zlib 1.2 ~9),
  but it is more lenient: a fuzzed PNG whose stream declares an invalid set of distance codes
  (zlib: "invalid distances set") and still matches its checksum inflated with ISA-L, while
  PIL and libpng refuse the file; reading it would have passed a GT file sglang cannot read.
* Deflating (report previews) decides nothing, so it takes the fastest: ISA-L at level 1,
  ~5 ms for a 768x512 case's preview against ~14 with zlib-ng and ~20 with zlib 1.2, at a
  smaller size. Any reader reads its streams; only the compressed bytes differ from zlib's,
  which is why GT key frames, whose bytes are published and hashed, are still written by
  OpenCV (:func:`gt_gen.reports.sidebyside.encode_png`), never by this.
"""

from __future__ import annotations

import zlib
from typing import Any

_inflate: Any
_deflate: Any
try:  # zlib-ng (the ``zlib-ng`` package, a dependency; optional where it has no wheels)
    from zlib_ng import zlib_ng as _inflate
except ImportError:  # pragma: no cover - depends on the install
    _inflate = zlib
try:  # ISA-L (the ``isal`` package, likewise)
    from isal import isal_zlib as _deflate
except ImportError:  # pragma: no cover - depends on the install
    _deflate = zlib

#: The exceptions a damaged stream raises.
Error: tuple[type[BaseException], ...] = tuple({zlib.error, getattr(_inflate, "error", zlib.error)})


def names() -> tuple[str, str]:
    """Which libraries inflate and deflate here: (``zlib-ng`` or ``zlib``, ``isal`` or ``zlib``)."""
    return ("zlib" if _inflate is zlib else "zlib-ng", "zlib" if _deflate is zlib else "isal")


def decompressobj() -> Any:
    """A decompressor with zlib's interface (``decompress(data, max_length)``, ``eof``,
    ``unused_data``) and zlib's idea of a valid stream."""
    return _inflate.decompressobj()


def compress(data: bytes, level: int = 1) -> bytes:
    """A zlib stream of ``data`` (level 1: ISA-L's fastest that still matches strings; zlib's
    level 1 where ISA-L is missing)."""
    return _deflate.compress(data, level)
