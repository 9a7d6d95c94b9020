"""The C helper that undoes PNG row filters, against the PNG specification's definitions
written out in Python (section 9.2: None, Sub, Up, Average, Paeth), on random rows of every
filter type, several pixel sizes and the edges (one row, one pixel)."""

from __future__ import annotations

import numpy as np
import pytest

pngrows = pytest.importorskip("gt_gen._pngrows", reason="C helper not built (no compiler)")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def reference(rows: bytes, h: int, stride: int, bpp: int) -> bytes:
    """The specification's reconstruction, byte by byte."""
    out = bytearray(h * stride)
    for y in range(h):
        kind, src = rows[y * (stride + 1)], rows[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        for i in range(stride):
            a = out[y * stride + i - bpp] if i >= bpp else 0
            b = out[(y - 1) * stride + i] if y else 0
            c = out[(y - 1) * stride + i - bpp] if y and i >= bpp else 0
            pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
            out[y * stride + i] = (src[i] + pred) % 256
    return bytes(out)


@pytest.mark.parametrize("bpp", [1, 3, 4, 6])
@pytest.mark.parametrize("h, pixels", [(1, 1), (1, 9), (5, 1), (7, 13), (16, 40)])
def test_every_filter_type_is_the_specifications(bpp: int, h: int, pixels: int) -> None:
    rng = np.random.default_rng(bpp * 1000 + h * 10 + pixels)
    stride = bpp * pixels
    for kinds in ([k] * h for k in range(5)):  # each type on every row, then a mix
        for mix in (kinds, list(rng.integers(0, 5, h))):
            body = rng.integers(0, 256, (h, stride), dtype=np.uint8)
            rows = np.concatenate([np.array(mix, np.uint8)[:, None], body], axis=1).tobytes()
            out = np.empty(h * stride, np.uint8)
            pngrows.unfilter(rows, out, h, stride, bpp)
            assert out.tobytes() == reference(rows, h, stride, bpp), (mix, bpp)


def test_a_filter_type_png_does_not_define_is_an_error() -> None:
    rows = bytes([0, 1, 2, 3, 5, 4, 5, 6])  # the second row's type is 5
    with pytest.raises(ValueError, match="above 4"):
        pngrows.unfilter(rows, bytearray(6), 2, 3, 3)


@pytest.mark.parametrize("rows, out, h, stride, bpp", [
    (b"\0" * 7, bytearray(6), 2, 3, 3),   # rows one byte short
    (b"\0" * 8, bytearray(5), 2, 3, 3),   # out one byte short
    (b"\0" * 8, bytearray(6), 2, 3, 2),   # stride not a multiple of bpp
    (b"\0" * 8, bytearray(6), 2, 3, 9),   # bpp above 8
    (b"\0" * 8, bytearray(6), -1, 3, 3),  # negative height
])
def test_sizes_that_do_not_fit_are_refused(rows: bytes, out: bytearray, h: int, stride: int, bpp: int) -> None:
    with pytest.raises(ValueError, match="rows must be"):
        pngrows.unfilter(rows, out, h, stride, bpp)


def test_read_only_output_is_refused() -> None:
    with pytest.raises(TypeError):
        pngrows.unfilter(b"\0" * 4, b"\0" * 3, 1, 3, 3)
