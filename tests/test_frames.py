"""Frames: key frames of real mp4s (as sglang reads them), images, and every bad input."""

from __future__ import annotations

from pathlib import Path

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


def test_images_rgb_only(tmp_path: Path) -> None:
    import cv2

    rgb = pattern_frames(1)[0]
    assert np.array_equal(fr.read_image(write_png(tmp_path / "a.png", rgb)), rgb)
    gray = tmp_path / "g.png"
    cv2.imwrite(str(gray), rgb[..., 0])
    with pytest.raises(InputFileError, match="grayscale"):
        fr.read_image(gray)
    rgba = tmp_path / "rgba.png"
    cv2.imwrite(str(rgba), np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]))
    with pytest.raises(InputFileError, match="alpha"):
        fr.read_image(rgba)
    trunc = tmp_path / "t.png"
    trunc.write_bytes((tmp_path / "a.png").read_bytes()[:40])
    with pytest.raises(InputFileError, match="cannot decode"):
        fr.read_image(trunc)


def test_key_frame_dir_needs_all(tmp_path: Path) -> None:
    rgb = pattern_frames(1)[0]
    names = {"first": "c_1gpu_frame_0.png", "mid": "c_1gpu_frame_mid.png", "last": "c_1gpu_frame_last.png"}
    write_png(tmp_path / names["first"], rgb)
    write_png(tmp_path / names["mid"], rgb)
    assert fr.read_key_frame_dir(tmp_path, names) is None
    write_png(tmp_path / names["last"], rgb)
    assert set(fr.read_key_frame_dir(tmp_path, names)) == {"first", "mid", "last"}
