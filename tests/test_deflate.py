"""gt_gen.deflate: standard zlib streams either way, whichever library is installed."""

from __future__ import annotations

import zlib

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


def test_isal_is_used_where_it_is_installed() -> None:
    pytest.importorskip("isal")
    assert deflate.name() == "isal"


def test_a_damaged_stream_raises_one_of_its_errors() -> None:
    bad = bytearray(zlib.compress(_data()))
    bad[-1] ^= 0xFF  # the Adler-32 checksum
    with pytest.raises(deflate.Error):
        deflate.decompressobj().decompress(bytes(bad))
