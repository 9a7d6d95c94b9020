"""Downloaded bytes must be a sane image before they are pinned.

Why: a URL that now serves an HTML error page, a captive-portal login, a truncated JPEG or a
decompression bomb must never become GT's input. The bytes are decoded whole with PIL (as the
pipelines will read them), in a format sglang's inputs use, with each side checked from the
header *before* decoding.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from gt_gen.assets.lock import FORMATS, MAX_SIDE, MIN_SIDE
from gt_gen.errors import InputFileError


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    mode: str


def check_image(data: bytes, *, what: str) -> ImageInfo:
    """The format and size of ``data``, or :class:`InputFileError` saying why it is refused."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format or "", im.size
            if fmt not in FORMATS:
                raise InputFileError(f"{what}: a {fmt or 'unknown'} image; inputs are "
                                     f"{'/'.join(sorted(FORMATS))}")
            if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
                raise InputFileError(f"{what}: {w}x{h} pixels is not a sane input image (each side "
                                     f"in [{MIN_SIDE}, {MAX_SIDE}])")
            im.load()  # decode every pixel: a truncated file fails here, not in the pipeline
            mode = im.mode
    except InputFileError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise InputFileError(f"{what}: not an image ({type(exc).__name__})") from None
    except (OSError, ValueError, SyntaxError) as exc:  # PIL's truncated/corrupt-file errors
        raise InputFileError(f"{what}: the image does not decode "
                             f"({' '.join(str(exc).split())[:120]})") from None
    return ImageInfo(fmt, w, h, mode)
