"""gt_gen.deflate: standard zlib streams either way, whichever library is installed."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from gt_gen import deflate


def _data() -> bytes:
    rng = np.random.default_rng(0)
    return rng.integers(0, 4, 300_000, dtype=np.uint8).tobytes() + b"text" * 5000


def test_its_streams_are_zlibs_both_ways() -> None:
    data = _data()
    assert zlib.decompress(deflate.compress(data)) == data
    d = deflate.decompressobj()
    assert d.decompress(zlib.compress(data, 9)) == data and d.eof and not d.unused_data


def test_zlib_ng_inflates_and_isal_deflates_where_installed() -> None:
    pytest.importorskip("isal")
    pytest.importorskip("zlib_ng")
    assert deflate.names() == ("zlib-ng", "isal")


def test_a_stream_zlib_refuses_is_refused() -> None:
    """A fuzzed PNG's IDAT whose dynamic block declares an invalid set of distance codes and
    whose checksum still matches its output: zlib (so libpng and PIL) refuses it, ISA-L's
    inflate would not; gt_gen inflates as zlib does."""
    data = (Path(__file__).parent / "data" / "png_invalid_distance_codes.png").read_bytes()
    idat = data[41:41 + struct.unpack_from(">I", data, 33)[0]]
    assert data[37:41] == b"IDAT"
    with pytest.raises(zlib.error, match="invalid distances set"):
        zlib.decompress(idat)
    with pytest.raises(deflate.Error):
        deflate.decompressobj().decompress(idat)


def test_a_damaged_stream_raises_one_of_its_errors() -> None:
    bad = bytearray(zlib.compress(_data()))
    bad[-1] ^= 0xFF  # the Adler-32 checksum
    with pytest.raises(deflate.Error):
        deflate.decompressobj().decompress(bytes(bad))
