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


def test_psnr_is_skimage_to_the_bit_and_inf_for_identical() -> None:
    for seed in range(20):
        a, b = pair(seed, shape=(7 + seed, 9 + 2 * seed, 3))
        assert reference.psnr(a, b) == peak_signal_noise_ratio(b, a, data_range=255)
    assert reference.psnr(a, a) == math.inf


def test_mean_abs_diff_is_numpys_float32_mean_as_sglang_computes_it() -> None:
    for seed in range(10):
        a, b = pair(seed, shape=(300 + seed, 211, 3))
        assert reference.mean_abs_diff(a, b) == float(
            np.abs(b.astype(np.float32) - a.astype(np.float32)).mean())


def test_mean_abs_diff_by_hand() -> None:
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 10, np.uint8)
    b[0, 0, 0] = 0
    assert reference.mean_abs_diff(a, b) == np.float32(110) / np.float32(12)  # float32 mean
