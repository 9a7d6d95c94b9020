"""numpy's float32 mean of |a-b| (sglang's MAD), reproduced bit for bit by every fast path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gt_gen.metrics import fast, npmean


@st.composite
def diff_pairs(draw):
    """Frames of sizes around numpy's leaf and block boundaries, with diffs from tiny to 255."""
    h = draw(st.integers(1, 90))
    w = draw(st.integers(1, 90))
    seed = draw(st.integers(0, 2**32 - 1))
    spread = draw(st.sampled_from([1, 8, 64, 255]))
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-spread, spread + 1, a.shape), 0, 255).astype(np.uint8)
    return a, b


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(diff_pairs())
def test_torch_emulation_is_numpy_to_the_bit(p) -> None:
    a, b = p
    got = npmean.absdiff_means_torch(torch.from_numpy(a)[None], torch.from_numpy(b)[None])[0]
    assert got == float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(diff_pairs())
def test_fast_engines_give_numpys_float32_mad(p) -> None:
    a, b = p
    if min(a.shape[:2]) < 7:
        return  # SSIM's window: the fast engines refuse such frames
    want = float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())
    assert fast.batch_metrics(a[None], b[None], engine="torch")[0]["mean_abs_diff"] == want
    if fast.native_available():
        assert fast.batch_metrics(a[None], b[None], engine="native")[0]["mean_abs_diff"] == want


@pytest.mark.parametrize("shape", [(512, 768, 3),
                                   pytest.param((1088, 1920, 3), marks=pytest.mark.slow)])
def test_large_frames_where_float32_rounding_shows(shape) -> None:
    # At these sizes the exact mean and numpy's float32 mean differ (the issue: up to 7.6e-6).
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = rng.integers(0, 256, shape, dtype=np.uint8)
    want = float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())
    exact = np.abs(a.astype(np.int64) - b).sum() / a.size
    got = fast.batch_metrics(a[None], b[None])[0]["mean_abs_diff"]
    assert got == want
    assert npmean.absdiff_means_torch(torch.from_numpy(a)[None], torch.from_numpy(b)[None])[0] == want
    assert want != exact  # the float64 mean would not have been sglang's number


def test_tree_covers_every_value_once_and_sums_as_numpy() -> None:
    rng = np.random.default_rng(2)
    for n in [1, 7, 8, 127, 128, 129, 1000, 12345, 300001]:
        t = npmean.tree(n)
        assert t.bounds[0] == 0 and t.bounds[-1] == n
        sizes = np.diff(t.bounds)
        assert (sizes > 0).all() and (sizes <= npmean.LEAF).all()
        v = rng.integers(0, 256, n)
        leaves = np.add.reduceat(v, t.bounds[:-1])[None]
        assert npmean.combine(leaves, t)[0] == v.astype(np.float32).sum()
    with pytest.raises(ValueError):
        npmean.tree(0)


@pytest.mark.parametrize("n", [1, 129, 12345, 1179648, 6266880])
def test_kernel_frontier_partitions_the_tree(n: int) -> None:
    """The CUDA kernel sums the subtrees at the frontier in parallel, then the top: the
    frontier must tile [0, n) in order, each node starting at a leaf boundary."""
    t = npmean.tree(n)
    for depth in (0, 3, npmean.KERNEL_DEPTH):
        lens, first = npmean.frontier(n, depth)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        assert lens.sum() == n and (lens > 0).all()
        assert (t.bounds[first] == starts).all()
        assert len(lens) <= 2**depth
