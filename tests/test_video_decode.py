"""The whole-video decoder: explicit colour matrix, and it matters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gt_gen.errors import InputFileError
from gt_gen.video_decode import decode_all
from tests.conftest import write_mp4


def test_matrix_is_explicit_and_changes_colours(tmp_path: Path) -> None:
    frames = np.zeros((9, 64, 64, 3), np.uint8)
    frames[..., 0] = 230  # saturated red/magenta: where BT.601 and BT.709 disagree most
    frames[:, :, 32:, 2] = 200
    mp4 = write_mp4(tmp_path / "v.mp4", frames, crf=0)
    a, used_a = decode_all(mp4, "bt601")
    b, used_b = decode_all(mp4, "bt709")
    assert (used_a, used_b) == ("bt601", "bt709") and len(a) == 9
    assert np.abs(a[0].astype(int) - b[0].astype(int)).max() > 10
    assert np.abs(a[0].astype(int) - frames[0]).mean() < 3  # PyAV encodes untagged as BT.601
    assert decode_all(mp4, "auto")[1] == "bt601"


def test_corrupt_video(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(InputFileError):
        decode_all(bad)
