"""The CUDA paths equal scikit-image (run where a GPU is; CI machines have none)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

from gt_gen.metrics import fast, reference
from tests.metrics.test_fast import frame_pairs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame_pairs())
def test_cuda_kernel_equals_skimage(p) -> None:
    a, b = p
    [f] = fast.batch_metrics(a[None], b[None], device="cuda")
    assert abs(f["ssim"] - reference.ssim(a, b)) <= 1e-6
    # sglang's numbers to the last bit: numpy's float32 MAD, scikit-image's PSNR
    assert f["mean_abs_diff"] == reference.mean_abs_diff(a, b)
    assert f["psnr"] == reference.psnr(a, b)


def test_cuda_batches_of_many_frames() -> None:
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (37, 130, 257, 3), dtype=np.uint8)
    c = np.clip(g.astype(int) + rng.integers(-30, 30, g.shape), 0, 255).astype(np.uint8)
    got = fast.batch_metrics(g, c, device="cuda", chunk=8)
    for i in (0, 17, 36):
        assert abs(got[i]["ssim"] - reference.ssim(g[i], c[i])) <= 1e-6


def test_cuda_mad_is_numpys_float32_mean_on_large_frames() -> None:
    """Where the exact and the float32 mean differ (large frames), CUDA gives numpy's."""
    rng = np.random.default_rng(1)
    g = rng.integers(0, 256, (5, 1088, 1920, 3), dtype=np.uint8)
    c = rng.integers(0, 256, g.shape, dtype=np.uint8)
    got = fast.batch_metrics(g, c, device="cuda", chunk=2)
    for i in range(len(g)):
        assert got[i]["mean_abs_diff"] == reference.mean_abs_diff(g[i], c[i])
        assert got[i]["psnr"] == reference.psnr(g[i], c[i])
