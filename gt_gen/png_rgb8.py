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
one run, IEND; libpng then decodes it, and a failure there also falls back to PIL (so the
error a user sees is PIL's, as before).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Chunks that change nothing PIL's ``convert("RGB")`` or libpng give for 8-bit RGB. Colour
#: chunks (gAMA, cHRM, sRGB, iCCP) are left out: neither applies them today, but that is a
#: reader's choice, and PIL decides; text chunks are left out because PIL bounds their size.
_HARMLESS = frozenset({b"pHYs", b"tIME"})


def _plain_rgb8_size(data: bytes, max_pixels: int) -> tuple[int, int] | None:
    """(width, height) when ``data`` is a well-formed, non-interlaced 8-bit RGB PNG of at
    most ``max_pixels`` pixels with only IHDR, IDAT, IEND and harmless chunks, each with a
    correct CRC; None for anything else."""
    if not data.startswith(_SIGNATURE):
        return None
    view = memoryview(data)
    pos, n, size = len(_SIGNATURE), len(data), None
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
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
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
        elif kind == b"IEND":
            return size if seen_idat and length == 0 else None
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
    size = _plain_rgb8_size(data, limit if limit is not None else 2**62)
    if size is None:
        return None
    import cv2

    from gt_gen.video_decode import to_rgb

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if bgr is None or bgr.dtype != np.uint8 or bgr.shape != (size[1], size[0], 3):
        return None
    return to_rgb(np.ascontiguousarray(bgr))
