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
    assert abs(f["mean_abs_diff"] - reference.mean_abs_diff(a, b)) <= 1e-4


def test_cuda_batches_of_many_frames() -> None:
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (37, 130, 257, 3), dtype=np.uint8)
    c = np.clip(g.astype(int) + rng.integers(-30, 30, g.shape), 0, 255).astype(np.uint8)
    got = fast.batch_metrics(g, c, device="cuda", chunk=8)
    for i in (0, 17, 36):
        assert abs(got[i]["ssim"] - reference.ssim(g[i], c[i])) <= 1e-6
