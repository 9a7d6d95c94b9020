"""gt_gen.nal: an IDR picture is recognised from its NAL units, and nothing else is (a
malformed, Annex B or foreign packet is never taken for one: the reuse then falls back to
OpenCV's seek)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.nal import is_idr, length_size, nal_types
from tests.media import VideoSpec, encode


def h264_nal(kind: int, body: bytes = b"\x88\x84", ref: int = 3) -> bytes:
    return bytes([(ref << 5) | kind]) + body


def hevc_nal(kind: int, body: bytes = b"\x01\xaf") -> bytes:
    return bytes([kind << 1, 1]) + body


def packet(*nals: bytes, size: int = 4) -> bytes:
    return b"".join(len(n).to_bytes(size, "big") + n for n in nals)


def avcc(size: int = 4) -> bytes:
    return bytes([1, 0x64, 0, 0x28, 0xFC | (size - 1), 0xE1, 0])


def hvcc(size: int = 4) -> bytes:
    return bytes([1] + [0] * 20 + [0x0C | (size - 1), 0])


@pytest.mark.parametrize("size", [1, 2, 4])
def test_length_size_is_read_from_avcc_and_hvcc(size: int) -> None:
    assert length_size("h264", avcc(size)) == size
    assert length_size("hevc", hvcc(size)) == size


def test_length_size_refuses_what_is_not_a_length_prefixed_record() -> None:
    assert length_size("h264", None) == 0
    assert length_size("h264", b"") == 0
    assert length_size("h264", b"\x00\x00\x00\x01\x67\x64") == 0  # Annex B start code
    assert length_size("h264", avcc()[:5]) == 0  # cut short
    assert length_size("hevc", avcc()) == 0  # too short for hvcC
    assert length_size("mpeg4", avcc()) == 0
    assert length_size("h264", bytes([1, 0x64, 0, 0x28, 0xFE, 0xE1, 0])) == 0  # 3-byte lengths: invalid


def test_h264_idr_and_non_idr_pictures() -> None:
    sps, pps, sei = h264_nal(7), h264_nal(8), h264_nal(6, ref=0)
    assert is_idr("h264", packet(sei, h264_nal(5)), 4)
    assert is_idr("h264", packet(sps, pps, h264_nal(5), h264_nal(5)), 4)  # two IDR slices
    assert not is_idr("h264", packet(sei, h264_nal(1)), 4)  # a P/B/I slice of a non-IDR picture
    assert not is_idr("h264", packet(h264_nal(5), h264_nal(1)), 4)  # mixed: not trusted
    assert not is_idr("h264", packet(sps, pps, sei), 4)  # no slice at all
    assert is_idr("h264", packet(h264_nal(5), size=2), 2)


def test_hevc_idr_types_only() -> None:
    vps, sps, pps = hevc_nal(32), hevc_nal(33), hevc_nal(34)
    assert is_idr("hevc", packet(vps, sps, pps, hevc_nal(19)), 4)  # IDR_W_RADL
    assert is_idr("hevc", packet(hevc_nal(20)), 4)  # IDR_N_LP
    for kind in (21, 16, 17, 18, 1, 0):  # CRA, BLA x3, TRAIL_R, TRAIL_N
        assert not is_idr("hevc", packet(hevc_nal(kind)), 4), kind


def test_malformed_packets_are_not_idr() -> None:
    good = packet(h264_nal(5))
    assert nal_types("h264", good, 4) == [5]
    assert nal_types("h264", good[:-1], 4) is None  # length runs past the end
    assert nal_types("h264", good + b"\x00", 4) is None  # trailing byte that is no NAL
    assert nal_types("h264", b"\x00\x00\x00\x00" + good, 4) is None  # zero length
    assert nal_types("h264", packet(b"\x85\x88"), 4) is None  # forbidden_zero_bit set
    assert nal_types("h264", b"", 4) is None
    for bad in (good[:-1], b"\x00\x00\x00\x00" + good, b"", packet(b"\x85\x88")):
        assert not is_idr("h264", bad, 4)
    assert not is_idr("h264", good, 0) and not is_idr("h264", good, 3)  # no or an invalid length size
    assert not is_idr("vp9", good, 4)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["h264", "hevc"]), st.binary(max_size=64), st.sampled_from([1, 2, 4]))
def test_any_bytes_give_an_answer_never_an_error(codec: str, data: bytes, size: int) -> None:
    assert is_idr(codec, data, size) in (True, False)
    types = nal_types(codec, data, size)
    assert types is None or all(0 <= t < 64 for t in types)


def test_real_encoder_packets(tmp_path: Path) -> None:
    """x264's and x265's own packets: every sync packet of a closed-GOP stream is IDR, no
    other packet is; an open-GOP stream's later sync points are not."""
    import av

    def sync_flags(path: Path) -> list[tuple[bool, bool]]:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            size = length_size(s.codec_context.name, bytes(s.codec_context.extradata or b""))
            assert size == 4
            return [(p.is_keyframe, is_idr(s.codec_context.name, memoryview(p), size))  # no copy, as StreamInfo reads
                    for p in c.demux(s) if p.size]

    closed = encode(tmp_path / "closed.mp4", VideoSpec("c", n=24, options={"crf": "23", "g": "8", "bf": "2"}))
    assert all(key == idr for key, idr in sync_flags(closed))
    assert sum(key for key, _ in sync_flags(closed)) == 3
    opened = encode(tmp_path / "open.mp4", VideoSpec("o", n=24, options={
        "crf": "23", "x264-params": "keyint=8:min-keyint=8:scenecut=0:open-gop=1"}))
    flags = sync_flags(opened)
    assert flags[0] == (True, True) and any(key and not idr for key, idr in flags[1:])
    hevc = encode(tmp_path / "hevc.mp4", VideoSpec("h", n=21, h=64, w=96, codec="libx265", options={
        "crf": "28", "x265-params": "log-level=error:keyint=10:min-keyint=10:scenecut=0:open-gop=0"}))
    assert all(key == idr for key, idr in sync_flags(hevc))
