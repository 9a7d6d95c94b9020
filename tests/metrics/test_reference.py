"""Reference metrics pinned against scikit-image and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gt_gen.metrics import reference


def pair(seed: int = 0, shape=(48, 64, 3)):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-15, 16, shape), 0, 255).astype(np.uint8)
    return a, b


def test_ssim_is_skimage_with_sglang_arguments() -> None:
    a, b = pair()
    assert reference.ssim(a, b) == structural_similarity(a, b, channel_axis=2, data_range=255)
    assert reference.ssim(a, a) == 1.0


def test_psnr_matches_skimage_and_inf_for_identical() -> None:
    a, b = pair(1)
    assert math.isclose(reference.psnr(a, b), peak_signal_noise_ratio(a, b, data_range=255), rel_tol=1e-12)
    assert reference.psnr(a, a) == math.inf


def test_mean_abs_diff_by_hand() -> None:
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 10, np.uint8)
    b[0, 0, 0] = 0
    assert reference.mean_abs_diff(a, b) == np.float32(110) / np.float32(12)  # float32 mean
