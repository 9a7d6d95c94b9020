"""The 8-bit RGB PNG fast path: PIL's pixels where it decodes, PIL's outcome where it declines.

The reference for every file is what :mod:`gt_gen.frames` gave before the fast path: PIL's
``convert("RGB")`` or PIL's one-line error. Each corpus runs both and requires the same
outcome (equal arrays and mode, or an error from both)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gt_gen import frames as fr
from gt_gen import png_rgb8
from gt_gen.errors import InputFileError

_SIG = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def raw_png(rgb: np.ndarray, *, extra: list[tuple[bytes, bytes]] = (), depth: int = 8, colour: int = 2,
            interlace: int = 0, idat: bytes | None = None, split: int = 1) -> bytes:
    """A PNG built chunk by chunk (filter 0 on every row), ``extra`` chunks before the IDATs."""
    h, w = rgb.shape[:2]
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace)
    if idat is None:
        idat = zlib.compress(b"".join(b"\x00" + rgb[y].tobytes() for y in range(h)))
    step = -(-len(idat) // split)
    parts = [idat[i:i + step] for i in range(0, len(idat), step)] or [b""]
    return (_SIG + chunk(b"IHDR", ihdr) + b"".join(chunk(k, b) for k, b in extra)
            + b"".join(chunk(b"IDAT", p) for p in parts) + chunk(b"IEND", b""))


def pil_outcome(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[str, object]:
    """What gt-gen gave before the fast path: PIL only."""
    with monkeypatch.context() as m:
        m.setattr(png_rgb8, "decode", lambda _data: None)
        try:
            return "ok", fr.decode_image_with_mode(data, "x.png")
        except InputFileError:
            return "error", None


def assert_same_outcome(data: bytes, monkeypatch: pytest.MonkeyPatch) -> bool:
    """gt-gen's outcome now equals PIL's; returns whether the fast path took the file."""
    want_kind, want = pil_outcome(data, monkeypatch)
    took = png_rgb8.decode(data) is not None
    try:
        got = fr.decode_image_with_mode(data, "x.png")
    except InputFileError:
        assert want_kind == "error", "PIL reads this file, gt-gen refused it"
        return took
    assert want_kind == "ok", "PIL refuses this file, gt-gen read it"
    assert isinstance(want, tuple)
    assert got[1] == want[1]
    assert got[0].dtype == np.uint8 and got[0].flags.c_contiguous
    assert np.array_equal(got[0], want[0])
    return took


def image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(rng.integers(-3, 4, (h, w, 3)), axis=1) % 256
    return np.where(rng.random((h, w, 1)) < 0.2, rng.integers(0, 256, (h, w, 3)), smooth).astype(np.uint8)


def writers(rgb: np.ndarray) -> dict[str, bytes]:
    """The same image as PIL and OpenCV write it, at several settings (8-bit RGB every time)."""
    import cv2
    from PIL import Image

    out = {}
    for level in (0, 1, 6, 9):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "PNG", compress_level=level)
        out[f"pil-{level}"] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", optimize=True)
    out["pil-optimize"] = buf.getvalue()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    out["cv2-default"] = cv2.imencode(".png", bgr)[1].tobytes()
    for f in (cv2.IMWRITE_PNG_FILTER_NONE, cv2.IMWRITE_PNG_FILTER_SUB, cv2.IMWRITE_PNG_FILTER_UP,
              cv2.IMWRITE_PNG_FILTER_AVG, cv2.IMWRITE_PNG_FILTER_PAETH, cv2.IMWRITE_PNG_ALL_FILTERS):
        out[f"cv2-filter{f}"] = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_FILTER, f])[1].tobytes()
    for s in (cv2.IMWRITE_PNG_STRATEGY_RLE, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY, cv2.IMWRITE_PNG_STRATEGY_FIXED):
        out[f"cv2-strategy{s}"] = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_STRATEGY, s])[1].tobytes()
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_plain_rgb_pngs_take_the_fast_path_with_pils_pixels(h: int, w: int, seed: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = image(h, w, seed)
    for name, data in writers(rgb).items():
        assert assert_same_outcome(data, monkeypatch), name
        assert np.array_equal(png_rgb8.decode(data), rgb), name
    # Chunk layouts PIL and libpng both accept: IDAT split, harmless chunks before them.
    for extra, split in (([], 3), ([(b"pHYs", struct.pack(">IIB", 2835, 2835, 1))], 1),
                         ([(b"tIME", struct.pack(">HBBBBB", 2026, 11, 27, 12, 0, 0))], 2)):
        assert assert_same_outcome(raw_png(rgb, extra=extra, split=split), monkeypatch)


def test_every_other_png_is_left_to_pil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Other modes, depths, interlacing, colour and text chunks, APNG: declined, and read (or
    refused) exactly as PIL does."""
    import cv2
    from PIL import Image, PngImagePlugin

    rgb = image(12, 17, 1)
    base = Image.fromarray(rgb)
    files: dict[str, bytes] = {}
    for mode in ("RGBA", "L", "LA", "P", "I;16", "1"):
        buf = io.BytesIO()
        (Image.fromarray(rgb[..., 0].astype(np.uint16) * 257) if mode == "I;16" else base.convert(mode)).save(buf, "PNG")
        files[mode] = buf.getvalue()
    files["rgb16"] = cv2.imencode(".png", rgb.astype(np.uint16) * 257)[1].tobytes()
    info = PngImagePlugin.PngInfo()
    info.add_text("k", "v")
    for name, kw in (("text", {"pnginfo": info}), ("icc", {"icc_profile": b"\0" * 40})):
        buf = io.BytesIO()
        base.save(buf, "PNG", **kw)
        files[name] = buf.getvalue()
    buf = io.BytesIO()
    base.save(buf, "PNG", save_all=True, append_images=[Image.fromarray(255 - rgb)])
    files["apng"] = buf.getvalue()
    files["gamma"] = raw_png(rgb, extra=[(b"gAMA", struct.pack(">I", 45455))])
    files["srgb"] = raw_png(rgb, extra=[(b"sRGB", b"\0")])
    files["trns"] = raw_png(rgb, extra=[(b"tRNS", b"\0\1\0\2\0\3")])
    files["interlace-flag"] = raw_png(rgb, interlace=1)
    for name, data in files.items():
        assert png_rgb8.decode(data) is None, name
        assert not assert_same_outcome(data, monkeypatch), name


def test_damaged_files_have_pils_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every byte of a small PNG flipped, every truncation, and crafted streams with correct
    CRCs (too little data, too much, a bad filter byte, IDATs split by another chunk, no IEND,
    data after IEND): the same pixels or an error, as PIL alone gave."""
    rgb = image(6, 7, 2)
    good = raw_png(rgb, extra=[(b"pHYs", struct.pack(">IIB", 1, 1, 0))], split=2)
    assert assert_same_outcome(good, monkeypatch)
    for i in range(len(good)):
        for flip in (0x01, 0x80):
            bad = bytearray(good)
            bad[i] ^= flip
            assert not assert_same_outcome(bytes(bad), monkeypatch), i  # declined: PIL's outcome
    for n in range(len(good)):
        assert not assert_same_outcome(good[:n], monkeypatch), n
    assert assert_same_outcome(good + b"trailing bytes", monkeypatch)
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(6))
    crafted = {  # each with correct CRCs
        "short": raw_png(rgb, idat=zlib.compress(rows[:-5])),
        "long": raw_png(rgb, idat=zlib.compress(rows + b"\x00" * 22)),
        "bad-filter": raw_png(rgb, idat=zlib.compress(b"\x07" + rows[1:])),
        "not-zlib": raw_png(rgb, idat=b"\x00\x01\x02\x03\x04\x05"),
        "no-idat": _SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 7, 6, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""),
        "no-iend": raw_png(rgb)[:-12],
        "zero-size": raw_png(np.zeros((1, 1, 3), np.uint8)).replace(struct.pack(">II", 1, 1), struct.pack(">II", 0, 1), 1),
    }
    split = raw_png(rgb, split=2)
    second = split.index(b"IDAT", split.index(b"IDAT") + 4) - 4
    crafted["idat-interrupted"] = split[:second] + chunk(b"tIME", b"\x07\xea\x0b\x1b\0\0\0") + split[second:]
    for name, data in crafted.items():
        assert_same_outcome(data, monkeypatch)
        if name in ("short", "bad-filter", "not-zlib", "no-idat", "no-iend", "idat-interrupted", "zero-size"):
            assert png_rgb8.decode(data) is None, name


def test_pixel_limit_is_pils(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above PIL's ``MAX_IMAGE_PIXELS`` the file is PIL's to warn about or refuse."""
    from PIL import Image

    data = raw_png(image(10, 10, 3))
    assert png_rgb8.decode(data) is not None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 99)
    assert png_rgb8.decode(data) is None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)
    with pytest.raises(InputFileError, match="too many pixels"):
        fr.decode_image(data, "x.png")


def test_the_fast_path_is_the_c_helper_and_its_fallback_is_libpng(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ``gt_gen._pngrows`` is built the file is inflated and unfiltered here (libpng is
    not called); without it libpng decodes it: the same pixels either way, for every writer."""
    pytest.importorskip("gt_gen._pngrows")
    rgb = image(23, 31, 5)
    files = writers(rgb)
    with monkeypatch.context() as m:
        m.setattr(png_rgb8, "_decode_libpng", lambda *a: pytest.fail("libpng was called"))
        native = {k: png_rgb8.decode(v) for k, v in files.items()}
    with monkeypatch.context() as m:
        m.setattr(png_rgb8, "_rows", lambda: None)
        libpng = {k: png_rgb8.decode(v) for k, v in files.items()}
    for k in files:
        assert native[k] is not None and np.array_equal(native[k], rgb), k
        assert libpng[k] is not None and np.array_equal(libpng[k], rgb), k


def test_a_stream_with_bytes_after_its_end_is_left_to_pil(monkeypatch: pytest.MonkeyPatch) -> None:
    """A complete zlib stream followed by more bytes, or a stream cut short before its
    checksum: PIL may read either, so it does (the fast path takes only exact streams)."""
    rgb = image(6, 7, 4)
    rows = b"".join(b"\x01" + rgb[y].tobytes() for y in range(6))  # Sub type, raw bytes: any pixels
    stream = zlib.compress(rows)
    for idat in (stream + b"\x00\x00", stream[:-4]):
        data = raw_png(rgb, idat=idat)
        assert png_rgb8.decode(data) is None
        assert_same_outcome(data, monkeypatch)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 50), w=st.integers(1, 50), seed=st.integers(0, 2**16))
def test_encode_writes_a_png_every_reader_reads_back(h: int, w: int, seed: int) -> None:
    import cv2
    from PIL import Image

    rgb = image(h, w, seed)
    data = png_rgb8.encode(rgb)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), rgb)
    assert np.array_equal(cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                                       cv2.COLOR_BGR2RGB), rgb)
    assert np.array_equal(png_rgb8.decode(data), rgb)
    assert png_rgb8.encode(rgb[:, ::-1]) == png_rgb8.encode(np.ascontiguousarray(rgb[:, ::-1]))  # strides


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8),
                                 np.zeros((4, 4, 3), np.uint16), np.zeros((0, 4, 3), np.uint8)])
def test_encode_refuses_what_is_not_8bit_rgb(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        png_rgb8.encode(bad)


def test_a_stream_pil_refuses_is_left_to_pil(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by fuzzing: a PNG whose chunks are intact and whose zlib stream declares an invalid
    set of distance codes yet matches its checksum. PIL and libpng refuse it; so does gt-gen
    (a faster but more lenient inflater read it, which sglang could not)."""
    data = (Path(__file__).parent / "data" / "png_invalid_distance_codes.png").read_bytes()
    assert png_rgb8._plain_rgb8(data, 10**6) is not None  # the chunks are fine: the stream is not
    assert png_rgb8.decode(data) is None
    assert pil_outcome(data, monkeypatch)[0] == "error"
    assert not assert_same_outcome(data, monkeypatch)
