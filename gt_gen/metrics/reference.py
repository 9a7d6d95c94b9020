"""Reference metrics, computed exactly as sglang's diffusion CI does.

* SSIM: ``skimage.metrics.structural_similarity(a, b, channel_axis=2, data_range=255)``:
  7x7 uniform window, sample covariance (N/(N-1)), K1=0.01, K2=0.03, a 3-pixel border
  cropped, the mean over channels. This is Wang et al. (2004) with a uniform instead of a
  Gaussian window, as in scikit-image's default; values differ from MATLAB's ``ssim``.
* PSNR: ``10 log10(255^2 / MSE)``; identical frames give ``+inf`` (kept as a float here;
  :mod:`gt_gen.results` writes it explicitly as the string ``"inf"`` in JSON).
* Mean absolute difference: the mean of ``|a - b|`` in float32 over all pixels and channels.
"""

from __future__ import annotations

import math

import numpy as np


def ssim(gt: np.ndarray, cand: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean SSIM of two HxWx3 uint8 frames, as scikit-image computes it."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(gt, cand, channel_axis=2, data_range=data_range))


def psnr(gt: np.ndarray, cand: np.ndarray, *, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB; ``math.inf`` when the frames are identical."""
    mse = float(np.mean((gt.astype(np.float64) - cand.astype(np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return float(10.0 * math.log10(data_range**2 / mse))


def mean_abs_diff(gt: np.ndarray, cand: np.ndarray) -> float:
    """Mean of ``|gt - cand|`` in float32 over all pixels and channels (0..255)."""
    return float(np.mean(np.abs(gt.astype(np.float32) - cand.astype(np.float32))))
