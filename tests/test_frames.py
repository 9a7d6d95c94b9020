"""Frames: key frames of real mp4s (as sglang reads them), images, and every bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gt_gen import frames as fr
from gt_gen.errors import InputFileError, MissingFileError
from tests.conftest import pattern_frames, write_mp4, write_png


def test_key_frame_indices() -> None:
    assert fr.key_frame_indices(25) == {"first": 0, "mid": 12, "last": 24}
    assert fr.key_frame_indices(1) == {"first": 0, "mid": 0, "last": 0}


def test_key_frames_of_an_mp4_are_close_to_the_source(tmp_path: Path) -> None:
    src = pattern_frames(25)
    mp4 = write_mp4(tmp_path / "v.mp4", src, crf=10)
    keys = fr.read_key_frames(mp4)
    assert fr.video_frame_count(mp4) == 25
    for key, idx in fr.key_frame_indices(25).items():
        assert keys[key].shape == (64, 96, 3) and keys[key].dtype == np.uint8
        assert np.abs(keys[key].astype(int) - src[idx]).mean() < 4  # codec loss only
    assert len(fr.read_all_frames(mp4)) == 25


def test_truncated_and_corrupt_videos(tmp_path: Path) -> None:
    mp4 = write_mp4(tmp_path / "v.mp4", pattern_frames(25))
    data = mp4.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputFileError) as exc:
        fr.read_key_frames(cut)
    assert "cut.mp4" in exc.value.one_line()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(InputFileError, match="cannot open video|no frames"):
        fr.read_key_frames(junk)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        fr.read_key_frames(empty)
    with pytest.raises(MissingFileError):
        fr.read_key_frames(tmp_path / "absent.mp4")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A PNG header declaring ``width`` x ``height`` pixels over a few bytes of data."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def _pil_modes(rgb: np.ndarray) -> dict[str, "object"]:
    """The same picture saved in every mode sglang's PIL reader accepts."""
    from PIL import Image

    base = Image.fromarray(rgb)
    alpha = Image.fromarray((np.arange(rgb.shape[1]) * 4 % 256).astype(np.uint8)[None].repeat(
        rgb.shape[0], 0))
    rgba = base.copy()
    rgba.putalpha(alpha)
    la = base.convert("L")
    la.putalpha(alpha)
    pal = base.quantize(16)
    pal.info["transparency"] = 0
    i16 = Image.fromarray((rgb[..., 0].astype(np.uint16) * 257))
    return {"RGB": base, "RGBA": rgba, "LA": la, "L": base.convert("L"), "P": pal,
            "I;16": i16, "1": base.convert("1"), "CMYK": base.convert("CMYK")}


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "L", "P", "I;16", "1", "CMYK"])
def test_images_are_read_as_sglang_reads_them(tmp_path: Path, mode: str) -> None:
    """PIL + ``.convert("RGB")``, whatever the mode: RGBA, grayscale, 16-bit and palette
    (with transparency) files are accepted, as sglang accepts them, and the conversion is
    named for results.json."""
    from PIL import Image

    img = _pil_modes(pattern_frames(1, 20, 30)[0])[mode]
    ext = ".jpg" if mode == "CMYK" else ".png"
    path = tmp_path / f"x{ext}"
    img.save(path)  # type: ignore[attr-defined]
    with Image.open(path) as reread:
        assert reread.mode == mode
        want = np.array(reread.convert("RGB"))
    got, how = fr.read_image_with_mode(path)
    assert got.dtype == np.uint8 and got.shape == (20, 30, 3)
    assert np.array_equal(got, want)
    assert how == ("RGB" if mode == "RGB" else f"{mode}->RGB")
    assert np.array_equal(fr.decode_image(path.read_bytes(), "x"), want)


def test_bad_images_are_one_line_naming_the_file(tmp_path: Path) -> None:
    rgb = pattern_frames(1)[0]
    good = write_png(tmp_path / "a.png", rgb)
    assert np.array_equal(fr.read_image(good), rgb)
    trunc = tmp_path / "t.png"
    trunc.write_bytes(good.read_bytes()[:60])
    with pytest.raises(InputFileError, match="cannot decode") as exc:
        fr.read_image(trunc)
    assert "t.png" in exc.value.one_line()
    junk = tmp_path / "j.png"
    junk.write_bytes(b"not an image" * 5)
    with pytest.raises(InputFileError, match="cannot decode"):
        fr.read_image(junk)
    empty = tmp_path / "e.png"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        fr.read_image(empty)


@pytest.mark.parametrize("size", [(100_000, 100_000), (20_000, 10_000)])
def test_decompression_bomb_is_bad_input_naming_the_file(tmp_path: Path, size) -> None:
    """A PNG that declares 10^10 (or 2*10^8) pixels: refused by PIL's guard before decoding,
    one line naming the file (an internal error before)."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png(*size))
    with pytest.raises(InputFileError, match="too many pixels") as exc:
        fr.read_image(bomb)
    assert "bomb.png" in exc.value.one_line()
    with pytest.raises(InputFileError, match="too many pixels") as exc:
        fr.decode_image(bomb.read_bytes(), "gt/case_1gpu.png")
    assert "gt/case_1gpu.png" in exc.value.one_line()


def _sglang_key_reads(mp4: Path) -> list[bool]:
    """sglang's extract_key_frames_from_video (test_utils.py): a seek and a read per key,
    indices [0, n // 2, n - 1] not de-duplicated; it raises at the first failed read."""
    cap = cv2.VideoCapture(str(mp4))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    out = []
    for idx in (0, total // 2, total - 1):
        cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
        out.append(bool(cap.read()[0]))
    cap.release()
    return out


@pytest.mark.parametrize("how", ["auto", "seek", "sequential"])
def test_a_one_frame_video_fails_as_in_sglang(tmp_path: Path, how: str) -> None:
    """Key frames 0, 0, 0: sglang reads frame 0 three times and OpenCV cannot seek back in a
    one-frame stream, so sglang's CI fails the case; so does gt-gen (it once passed it)."""
    mp4 = write_mp4(tmp_path / "v.mp4", pattern_frames(1, 32, 48), crf=0)
    assert _sglang_key_reads(mp4) == [True, False, False]
    with pytest.raises(InputFileError, match="cannot read frame 0 of 1 for key frame 'mid'"):
        fr.read_key_frames(mp4, how=how)


@pytest.mark.parametrize("n", [2, 3])
def test_short_videos_key_frames(tmp_path: Path, n: int) -> None:
    """2 frames: key frames 0, 1, 1, index 1 read twice as sglang does (OpenCV can)."""
    src = pattern_frames(n, 32, 48)
    mp4 = write_mp4(tmp_path / "v.mp4", src, crf=0)
    assert _sglang_key_reads(mp4) == [True, True, True]
    keys = fr.read_key_frames(mp4)
    assert keys.indices == fr.key_frame_indices(n) and keys.total == n
    for key, idx in keys.indices.items():
        assert np.abs(keys[key].astype(int) - src[idx]).mean() < 8  # 4:2:0 chroma loss only
    assert len(fr.read_all_frames(mp4)) == n


def test_read_key_frames_names_the_users_file(tmp_path: Path) -> None:
    mp4 = write_mp4(tmp_path / "v.mp4", pattern_frames(9))
    cut = tmp_path / "tmpcopy.mp4"
    cut.write_bytes(mp4.read_bytes()[:300])
    with pytest.raises(InputFileError) as exc:
        fr.read_key_frames(cut, where="gt/case_1gpu.mp4")
    assert "gt/case_1gpu.mp4" in exc.value.one_line() and "tmpcopy" not in exc.value.one_line()


def test_key_frame_dir_needs_all(tmp_path: Path) -> None:
    rgb = pattern_frames(1)[0]
    names = {"first": "c_1gpu_frame_0.png", "mid": "c_1gpu_frame_mid.png", "last": "c_1gpu_frame_last.png"}
    write_png(tmp_path / names["first"], rgb)
    write_png(tmp_path / names["mid"], rgb)
    assert fr.read_key_frame_dir(tmp_path, names) is None
    write_png(tmp_path / names["last"], rgb)
    assert set(fr.read_key_frame_dir(tmp_path, names)) == {"first", "mid", "last"}
