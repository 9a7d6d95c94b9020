"""The fast backend equals scikit-image within 1e-6 (property tests over sizes and content)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gt_gen.errors import ShapeMismatchError
from gt_gen.metrics import compute_pair_metrics, fast, reference


@st.composite
def frame_pairs(draw):
    h = draw(st.integers(7, 40))
    w = draw(st.integers(7, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["flat", "noise", "gradient", "mixed", "identical", "extreme"]))
    rng = np.random.default_rng(seed)
    if kind == "flat":
        a = np.full((h, w, 3), rng.integers(0, 256), np.uint8)
        b = np.full((h, w, 3), rng.integers(0, 256), np.uint8)
    elif kind == "gradient":
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([(x * 255 // max(1, w - 1)), (y * 255 // max(1, h - 1)), (x + y) % 256], -1).astype(np.uint8)
        b = np.clip(a.astype(int) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    elif kind == "extreme":
        a = (rng.integers(0, 2, (h, w, 3)) * 255).astype(np.uint8)
        b = 255 - a
    else:
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        b = a.copy() if kind == "identical" else rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if kind == "mixed":
            b = ((a.astype(int) + b) // 2).astype(np.uint8)
    return a, b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame_pairs())
def test_fast_equals_skimage(p) -> None:
    a, b = p
    [f] = fast.batch_metrics(a[None], b[None])
    assert abs(f["ssim"] - reference.ssim(a, b)) <= 1e-6
    r_psnr = reference.psnr(a, b)
    assert (f["psnr"] == r_psnr == math.inf) or abs(f["psnr"] - r_psnr) <= 1e-6
    assert abs(f["mean_abs_diff"] - reference.mean_abs_diff(a, b)) <= 1e-4  # float32 reference


def test_batch_of_mixed_sizes_keeps_order() -> None:
    rng = np.random.default_rng(3)
    gts = [rng.integers(0, 256, s, dtype=np.uint8) for s in [(9, 9, 3), (12, 20, 3), (9, 9, 3)]]
    cands = [np.clip(g.astype(int) + 5, 0, 255).astype(np.uint8) for g in gts]
    got = compute_pair_metrics(gts, cands, backend="fast")
    want = compute_pair_metrics(gts, cands, backend="reference")
    for g, w in zip(got, want):
        assert abs(g["ssim"] - w["ssim"]) <= 1e-6


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ShapeMismatchError, match="no resizing"):
        compute_pair_metrics([np.zeros((8, 8, 3), np.uint8)], [np.zeros((8, 9, 3), np.uint8)])


def test_too_small_for_ssim() -> None:
    with pytest.raises(ValueError, match="at least 7x7"):
        fast.batch_metrics(np.zeros((1, 6, 9, 3), np.uint8), np.zeros((1, 6, 9, 3), np.uint8))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame_pairs())
def test_torch_engine_equals_skimage(p) -> None:
    a, b = p
    [f] = fast.batch_metrics(a[None], b[None], engine="torch")
    assert abs(f["ssim"] - reference.ssim(a, b)) <= 1e-6


def test_native_kernel_is_built_here() -> None:
    # setup.py builds it optionally; CI has a compiler, so a missing kernel is a build bug there.
    import os

    if not fast.native_available() and not os.environ.get("CI"):
        pytest.skip("C kernel not built (no compiler)")
    assert fast.native_available()
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (123, 77, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (123, 77, 3), dtype=np.uint8)
    assert abs(fast.batch_metrics(a[None], b[None], engine="native")[0]["ssim"] - reference.ssim(a, b)) <= 1e-12
