"""Reference metrics, computed exactly as sglang's diffusion CI does.

* SSIM: ``skimage.metrics.structural_similarity(a, b, channel_axis=2, data_range=255)``:
  7x7 uniform window, sample covariance (N/(N-1)), K1=0.01, K2=0.03, a 3-pixel border
  cropped, the mean over channels. This is Wang et al. (2004) with a uniform instead of a
  Gaussian window, as in scikit-image's default; values differ from MATLAB's ``ssim``.
* PSNR: ``skimage.metrics.peak_signal_noise_ratio(gt, cand, data_range=255)``, i.e.
  ``10 * np.log10(255^2 / MSE)`` with ``np.log10`` (``math.log10`` can differ in the last
  bit); identical frames give ``+inf`` (kept as a float here; :mod:`gt_gen.results` writes it
  explicitly as the string ``"inf"`` in JSON).
* Mean absolute difference: numpy's float32 ``.mean()`` of ``|a - b|`` in float32 (pairwise
  float32 summation, not the exact mean: see :mod:`gt_gen.metrics.npmean`).

sglang's functions (``compute_ssim``, ``compute_psnr``, ``compute_mean_abs_diff`` in
``python/sglang/multimodal_gen/test/test_utils.py``) are called with (output, GT) for SSIM
and MAD and (GT, output) for PSNR; all three are symmetric to the last bit, so the order here
does not change a value.
"""

from __future__ import annotations

import math

import numpy as np

from gt_gen.metrics.npmean import absdiff_mean_numpy


def ssim(gt: np.ndarray, cand: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean SSIM of two HxWx3 uint8 frames, as scikit-image computes it."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(gt, cand, channel_axis=2, data_range=data_range))


def psnr(gt: np.ndarray, cand: np.ndarray, *, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, as scikit-image computes it; ``math.inf`` when the
    frames are identical (scikit-image divides by zero there)."""
    from skimage.metrics import peak_signal_noise_ratio

    if np.array_equal(gt, cand):
        return math.inf
    return float(peak_signal_noise_ratio(gt, cand, data_range=data_range))


def mean_abs_diff(gt: np.ndarray, cand: np.ndarray) -> float:
    """numpy's float32 mean of ``|gt - cand|`` over all pixels and channels (0..255)."""
    return absdiff_mean_numpy(cand, gt)
