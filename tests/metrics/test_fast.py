"""The fast backend equals scikit-image within 1e-6 (property tests over sizes and content)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gt_gen.errors import InputFileError, ShapeMismatchError
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
    assert abs(f["ssim"] - reference.ssim(a, b)) <= 1e-12
    # PSNR and MAD are sglang's numbers to the last bit (scikit-image's formula, numpy's
    # float32 mean), not merely close: a value at its gate must get sglang's verdict.
    assert f["psnr"] == reference.psnr(a, b)
    assert f["mean_abs_diff"] == reference.mean_abs_diff(a, b)


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


@pytest.mark.parametrize("backend", ["reference", "fast"])
@pytest.mark.parametrize("shape", [(6, 6, 3), (6, 40, 3), (40, 1, 3)])
def test_frames_smaller_than_the_ssim_window_are_bad_input(backend, shape) -> None:
    # scikit-image refuses them (a ValueError deep inside: an internal error before); for the
    # user it is a bad input with the reason.
    z = np.zeros(shape, np.uint8)
    with pytest.raises(InputFileError, match="SSIM needs at least 7x7"):
        compute_pair_metrics([z], [z], backend=backend)


def _mad_frame(n_pixels: int, total: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A GT/candidate pair of ``n_pixels`` RGB pixels whose |diff| sums to ``total``."""
    rng = np.random.default_rng(seed)
    n = n_pixels * 3
    base, extra = divmod(total, n)
    d = np.full(n, base, np.int64)
    d[rng.permutation(n)[:extra]] += 1
    a = rng.integers(0, 256 - d.max() if d.max() < 256 else 1, n).astype(np.int64)
    flip = rng.random(n) < 0.5  # the candidate above or below the GT
    b = np.where(flip & (a >= d), a - d, a + d)
    h = next(k for k in range(int(n_pixels**0.5), 0, -1) if n_pixels % k == 0)
    shape = (h, n_pixels // h, 3)
    return a.astype(np.uint8).reshape(shape), b.astype(np.uint8).reshape(shape)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pixels=st.sampled_from([49 * 49, 64 * 96, 120 * 160, 7 * 1031]),
       mad=st.floats(0.5, 250.0), seed=st.integers(0, 2**32 - 1),
       where=st.sampled_from(["sglang", "exact", "above", "below"]))
def test_fast_verdict_at_the_mad_gate_is_sglangs(pixels, mad, seed, where) -> None:
    """A gate placed exactly on (or one float32 step around) sglang's float32 MAD, or on the
    exact mean: the fast backend's verdict is the reference's, i.e. sglang's."""
    n = pixels * 3
    a, b = _mad_frame(pixels, int(round(mad * n)), seed)
    sglang = float(np.abs(b.astype(np.float32) - a.astype(np.float32)).mean())
    exact = float(np.abs(a.astype(np.int64) - b).sum() / n)
    gate = {"sglang": sglang, "exact": exact,
            "above": float(np.nextafter(np.float32(sglang), np.float32(np.inf))),
            "below": float(np.nextafter(np.float32(sglang), np.float32(-np.inf)))}[where]
    gates = {"mean_abs_diff": gate}
    [ref] = compute_pair_metrics([a], [b], backend="reference", gates=gates)
    [got] = compute_pair_metrics([a], [b], backend="fast", gates=gates)
    assert ref["mean_abs_diff"] == sglang
    assert got["mean_abs_diff"] == sglang
    assert (got["mean_abs_diff"] <= gate) == (sglang <= gate)


def test_issue_example_mad_at_13_3_fails_as_in_sglang() -> None:
    """The exact mean sits just under the gate 13.3, numpy's float32 mean just over it:
    sglang fails the case, so must every backend."""
    pixels = 120 * 160
    n = pixels * 3
    total = round(13.3 * n)  # n is a multiple of 10: the exact mean is 13.3
    a, b = _mad_frame(pixels, total, 3)
    assert total / n <= 13.3  # the float64 mean passes the gate
    sglang = float(np.abs(b.astype(np.float32) - a.astype(np.float32)).mean())
    assert sglang > 13.3
    for backend in ("reference", "fast"):
        [v] = compute_pair_metrics([a], [b], backend=backend)
        assert v["mean_abs_diff"] == sglang and not v["mean_abs_diff"] <= 13.3
    for engine in ("torch", "native") if fast.native_available() else ("torch",):
        assert fast.batch_metrics(a[None], b[None], engine=engine)[0]["mean_abs_diff"] == sglang


def test_fast_value_within_the_margin_of_its_gate_is_re_decided(monkeypatch) -> None:
    """Should a fast SSIM ever sit 1e-12 from its gate on the wrong side, the reference
    decides: the value judged is scikit-image's."""
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-9, 10, a.shape), 0, 255).astype(np.uint8)
    true = reference.ssim(a, b)
    real = fast.batch_metrics

    def nudged(*args, **kwargs):
        rows = real(*args, **kwargs)
        return [{**r, "ssim": r["ssim"] - 1e-12} for r in rows]

    monkeypatch.setattr(fast, "batch_metrics", nudged)
    [far] = compute_pair_metrics([a], [b], backend="fast", gates={"ssim": 0.5})
    assert far["ssim"] != true  # far from the gate: the fast number is kept
    [near] = compute_pair_metrics([a], [b], backend="fast", gates={"ssim": true})
    assert near["ssim"] == true and near["ssim"] >= true


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=frame_pairs(), how=st.sampled_from(["batch", "list", "reference", "near_gate", "torch"]))
def test_bgr_frames_give_their_rgb_images_values(p, how, monkeypatch_module) -> None:
    """``bgr=True`` (a decoder's BGR frames, not swapped) gives the RGB frames' numbers bit for
    bit on every path: the C kernel's batch, a list, the reference, a value re-decided at its
    gate (scikit-image and numpy on the RGB images: their last bits depend on the channel
    order), and torch (no C kernel)."""
    a, b = p
    ra, rb = np.ascontiguousarray(a[..., ::-1]), np.ascontiguousarray(b[..., ::-1])
    backend = "reference" if how == "reference" else "fast"
    if how == "torch":
        monkeypatch_module.setattr(fast, "_native", None)
    try:
        want = compute_pair_metrics(a[None], b[None], backend=backend)
        gates = {"ssim": want[0]["ssim"]} if how == "near_gate" else None
        if gates:
            want = compute_pair_metrics(a[None], b[None], backend=backend, gates=gates)
            assert want[0]["ssim"] == reference.ssim(a, b)
        if how == "list":
            got = compute_pair_metrics([ra], [rb], backend=backend, bgr=True)
        else:
            got = compute_pair_metrics(ra[None], rb[None], backend=backend, gates=gates, bgr=True)
    finally:
        monkeypatch_module.undo()
    assert got == want


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


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
