"""A faster exact read of the one PNG kind GT key frames almost always are: 8-bit RGB.

Why: sglang reads GT images with PIL (``Image.open(...).convert("RGB")``) and so does
:mod:`gt_gen.frames`; but PIL's PNG decoder took ~70 ms CPU per 1536x1024 key frame (three
per case, on every compare) against ~35 ms for libpng through OpenCV, and ``convert`` plus
``np.array`` copy the image twice more. For a plain 8-bit RGB PNG both decoders give the
stored samples, no conversion involved, so the pixels are the same by construction; every
other PNG (palette, grey, alpha, 16-bit, interlaced, transparency, colour chunks, text that
PIL bounds, APNG, anything malformed) is left to PIL, whose conversions and errors are the
reference. A file is only taken here when it is well formed to the last byte PIL or libpng
could object to: the signature, an IHDR that PIL accepts, every chunk's CRC, IDAT chunks in
one run, IEND; it is then decoded here (below), and a failure there also falls back to PIL
(so the error a user sees is PIL's, as before).

Decoding: the IDAT stream is inflated with :mod:`gt_gen.deflate` (zlib-ng, PIL's own
inflater: it refuses what PIL refuses) and must end exactly where the image's rows do (a
complete stream, its checksum right, nothing after it); the row filters are undone by the C
helper ``gt_gen._pngrows``. Both steps are fixed by the PNG specification, so the samples are
libpng's and PIL's; anything they might treat leniently (extra data, a short stream) is
declined here and left to PIL. Without the C helper (no compiler at install time) libpng
decodes it through OpenCV, as before.

:func:`encode` writes the same kind of PNG for report previews (not GT key frames: see
:mod:`gt_gen.deflate`).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Chunks that change nothing PIL's ``convert("RGB")`` or libpng give for 8-bit RGB. Colour
#: chunks (gAMA, cHRM, sRGB, iCCP) are left out: neither applies them today, but that is a
#: reader's choice, and PIL decides; text chunks are left out because PIL bounds their size.
_HARMLESS = frozenset({b"pHYs", b"tIME"})


def _plain_rgb8(data: bytes, max_pixels: int) -> tuple[int, int, list[memoryview]] | None:
    """(width, height, the IDAT chunks' bodies) when ``data`` is a well-formed, non-interlaced
    8-bit RGB PNG of at most ``max_pixels`` pixels with only IHDR, IDAT, IEND and harmless
    chunks, each with a correct CRC; None for anything else."""
    if not data.startswith(_SIGNATURE):
        return None
    view = memoryview(data)
    pos, n, size = len(_SIGNATURE), len(data), None
    idat: list[memoryview] = []
    seen_idat = idat_done = False
    while True:
        if pos + 12 > n:
            return None
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            return None
        body = view[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if _crc(kind, body) != crc:
            return None
        if size is None:  # the first chunk must be IHDR
            if kind != b"IHDR" or length != 13:
                return None
            w, h, depth, colour, comp, filt, interlace = struct.unpack_from(">IIBBBBB", data, pos + 8)
            if not (depth == 8 and colour == 2 and comp == 0 and filt == 0 and interlace == 0
                    and 0 < w < 2**31 and 0 < h < 2**31 and w * h <= max_pixels):
                return None
            size = (w, h)
        elif kind == b"IDAT":
            if idat_done:
                return None
            seen_idat = True
            idat.append(body)
        elif kind == b"IEND":
            return (*size, idat) if seen_idat and length == 0 else None
        else:
            if seen_idat:
                idat_done = True
            if kind not in _HARMLESS:
                return None
        pos = end


def decode(data: bytes) -> np.ndarray | None:
    """The RGB uint8 HxWx3 pixels of a plain 8-bit RGB PNG (see the module docstring), or
    None: then the caller reads the file with PIL as before."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS  # PIL warns above it and refuses above twice it: PIL decides
    found = _plain_rgb8(data, limit if limit is not None else 2**62)
    if found is None:
        return None
    w, h, idat = found
    rows = _rows()
    if rows is None:
        return _decode_libpng(data, w, h)
    from gt_gen import deflate

    need = h * (1 + 3 * w)
    inflater = deflate.decompressobj()
    try:  # at most one byte more than the rows: a longer stream is declined, not inflated
        raw = inflater.decompress(idat[0] if len(idat) == 1 else b"".join(idat), need + 1)
    except deflate.Error:
        return None
    if len(raw) != need or not inflater.eof or inflater.unused_data:
        return None
    out = np.empty((h, w, 3), np.uint8)
    try:
        rows.unfilter(raw, out, h, 3 * w, 3)
    except ValueError:  # a filter type PNG does not define
        return None
    return out


def _rows() -> Any:
    """The C helper that undoes PNG row filters, or None where it was not built."""
    try:
        from gt_gen import _pngrows  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - depends on the install
        return None
    return _pngrows


def _decode_libpng(data: bytes, w: int, h: int) -> np.ndarray | None:
    """libpng's decode (through OpenCV) of a file :func:`_plain_rgb8` took: the path where
    the C helper is missing."""
    import cv2

    from gt_gen.video_decode import to_rgb

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if bgr is None or bgr.dtype != np.uint8 or bgr.shape != (h, w, 3):
        return None
    return to_rgb(np.ascontiguousarray(bgr))


def encode(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (uint8 HxWx3): every row with the Sub filter (the left
    pixel's bytes subtracted, what libpng picked for OpenCV's previews anyway), one IDAT
    deflated by :mod:`gt_gen.deflate` at level 1. For report previews: ~4x faster than
    OpenCV's encoder on the 2-core runner at a similar size; any PNG reader reads it."""
    from gt_gen import deflate

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or not rgb.size:
        raise ValueError(f"encode wants a non-empty uint8 HxWx3 image, not {rgb.dtype} {rgb.shape}")
    h, w = rgb.shape[:2]
    flat = np.ascontiguousarray(rgb).reshape(h, 3 * w)
    rows = np.empty((h, 1 + 3 * w), np.uint8)
    rows[:, 0] = 1  # Sub
    rows[:, 1:4] = flat[:, :3]
    np.subtract(flat[:, 3:], flat[:, :-3], out=rows[:, 4:])  # modulo 256, as the filter is
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"".join((_SIGNATURE, _chunk(b"IHDR", ihdr), _chunk(b"IDAT", deflate.compress(rows.tobytes(), 1)),
                     _chunk(b"IEND", b"")))


def _crc(kind: bytes, body: bytes | memoryview) -> int:
    """A chunk's CRC-32, over its type and its data (PNG 5.3)."""
    return zlib.crc32(body, zlib.crc32(kind))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", _crc(kind, body))
