"""The C kernel, each of its code paths (AVX-512 or AVX2 chosen at run time, portable C) and
its band layout, against scikit-image (SSIM within 1e-12) and numpy (sums and float32 MAD
exact); the AVX-512 path gives the AVX2 path's four values bit for bit.

The kernel cuts a frame into row bands whose sums are added in order; every row's |a - b| and
(a - b)^2 are counted by exactly one band, in 8-value blocks that may straddle two rows (and so
two bands). ``band_rows=1`` puts a band edge under every output row so that bookkeeping is
exercised on small frames too; frames wider than a strip (512 values) cover the strip seams.

Every 3-channel check also runs the kernel on the BGR frames with ``bgr=True`` (a decoder's
frames, measured without a swap): it must give the RGB frames' four values bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage.metrics import structural_similarity

from gt_gen.metrics import fast

pytestmark = pytest.mark.skipif(not fast.native_available(), reason="C kernel not built (no compiler)")

ENV = "GT_GEN_FASTSSIM_ISA"


def _paths() -> list[str]:
    """Every path this CPU runs (the widest last)."""
    native = fast._native
    if native is None:
        return ["portable"]
    return ["portable"] + (["avx2"] if native.has_avx2() else []) + (["avx512"] if native.has_avx512() else [])


def _want(a: np.ndarray, b: np.ndarray) -> tuple[float, int, int, float]:
    d = a.astype(np.int64) - b
    return (float(structural_similarity(a, b, channel_axis=2, data_range=255)), int((d * d).sum()),
            int(np.abs(d).sum()), float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean()))


def _run(a: np.ndarray, b: np.ndarray, isa: str, band_rows: int = 0) -> tuple[float, int, int, float]:
    h, w, c = a.shape
    return fast._native.metrics(np.ascontiguousarray(a), np.ascontiguousarray(b), h, w, c, 255.0,
                                isa, band_rows)


def _run_bgr(a: np.ndarray, b: np.ndarray, isa: str, band_rows: int = 0,
             threads: int = 0) -> tuple[float, int, int, float]:
    """The RGB pair ``a``, ``b`` given to the kernel as BGR, with ``bgr=True``."""
    h, w, c = a.shape
    return fast._native.metrics(np.ascontiguousarray(a[..., ::-1]), np.ascontiguousarray(b[..., ::-1]),
                                h, w, c, 255.0, isa, band_rows, threads, True)


def _check(a: np.ndarray, b: np.ndarray, band_rows: tuple[int, ...] = (0, 1, 2, 5)) -> None:
    want = _want(a, b)
    for isa in _paths():
        for br in band_rows:
            got = _run(a, b, isa, br)
            assert abs(got[0] - want[0]) <= 1e-12, (isa, br, a.shape)
            assert got[1:] == want[1:], (isa, br, a.shape)
            if a.shape[2] == 3:
                assert _run_bgr(a, b, isa, br) == got, (isa, br, a.shape)
            if isa == "avx512":  # the same windows paired and summed in the same order as AVX2
                assert got == _run(a, b, "avx2", br), (br, a.shape)


def _pair(kind: str, h: int, w: int, c: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    if kind == "noise":
        b = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    elif kind == "extreme":  # only 0 and 255, every difference +-255
        a = (a > 127).astype(np.uint8) * 255
        b = 255 - a
    elif kind == "flat":  # constant frames: zero variance, the C1/C2 terms alone
        a = np.full((h, w, c), rng.choice([0, 255, int(rng.integers(0, 256))]), np.uint8)
        b = np.full((h, w, c), rng.choice([0, 255, int(rng.integers(0, 256))]), np.uint8)
    elif kind == "identical":
        b = a.copy()
    else:  # "close": a candidate a grey level or two off
        b = np.clip(a.astype(int) + rng.integers(-2, 3, a.shape), 0, 255).astype(np.uint8)
    return a, b


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(7, 30), w=st.integers(7, 30), c=st.sampled_from([1, 2, 3, 4]),
       kind=st.sampled_from(["noise", "extreme", "flat", "identical", "close"]),
       seed=st.integers(0, 2**32 - 1))
def test_every_path_and_band_layout_equals_skimage_and_numpy(h, w, c, kind, seed) -> None:
    _check(*_pair(kind, h, w, c, seed))


@pytest.mark.parametrize("shape", [
    (7, 7, 3),     # one window: one output value per channel, no vector lane filled
    (8, 7, 3),     # two output rows, one column
    (7, 8, 1),     # N = 56: the last 8-value block is whole, the frame a single row band
    (9, 11, 3),    # N = 297: a partial last block, rows of 33 values (blocks straddle rows)
    (7, 180, 3),   # rows of 540 values: a second strip of 4 outputs
    (12, 349, 3),  # a strip seam and a vector tail in one row
    (10, 700, 3),  # several strips
    (8, 21, 3),    # rows of 63 values: one whole 21-pixel step of the AVX-512 BGR reversal
    (9, 43, 3),    # 129 values: two whole steps, the tail of 3 values masked
    (8, 13, 3),    # 21 outputs a row: one 16-window step, a scalar tail
    (8, 15, 3),    # 27 outputs: 16 windows, then 8, then 3 scalar ones
    (20, 9, 8),    # eight channels, the kernel's most
])
@pytest.mark.parametrize("kind", ["noise", "extreme", "close"])
def test_sizes_at_the_kernels_edges(shape, kind) -> None:
    _check(*_pair(kind, *shape, seed=sum(shape)))


def test_extremes_give_the_textbook_values() -> None:
    black = np.zeros((16, 16, 3), np.uint8)
    white = np.full((16, 16, 3), 255, np.uint8)
    for isa in _paths():
        same = _run(white, white, isa)
        assert same[0] == 1.0 and same[1] == 0 and same[2] == 0 and same[3] == 0.0
        opposite = _run(black, white, isa)
        assert opposite[1] == 255 * 255 * black.size and opposite[3] == 255.0
    _check(black, white)


def test_paths_agree_on_a_large_threaded_frame() -> None:
    """320x600 is above the size where bands run on threads; the result does not depend on
    the path beyond SSIM's last bits, nor on how the frame is cut into bands, and not at all on
    the number of threads (bands are summed in order, whoever ran them)."""
    a, b = _pair("close", 320, 600, 3, 11)
    h, w, c = a.shape
    want = _want(a, b)
    for isa in _paths():
        for br in (0, 1, 7):
            got = _run(a, b, isa, br)
            assert abs(got[0] - want[0]) <= 1e-12
            assert got[1:] == want[1:]
            for threads in (1, 2, 3):
                assert fast._native.metrics(a, b, h, w, c, 255.0, isa, br, threads) == got
                assert _run_bgr(a, b, isa, br, threads) == got


def test_thread_count_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _pair("noise", 300, 300, 3, 2)
    h, w, c = a.shape
    default = fast._native.metrics(a, b, h, w, c, 255.0)
    for value in ("1", "2", "junk"):
        monkeypatch.setenv("GT_GEN_FASTSSIM_THREADS", value)
        assert fast._native.metrics(a, b, h, w, c, 255.0) == default


def test_env_var_forces_the_portable_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "portable")
    assert fast._native.isa() == "portable" and fast.native_isa() == "portable"
    a, b = _pair("noise", 20, 30, 3, 5)
    assert fast.batch_metrics(a[None], b[None], engine="native")[0]["mean_abs_diff"] == _want(a, b)[3]
    monkeypatch.setenv(ENV, "avx2")  # caps auto at AVX2: the widest path it may take
    assert fast.native_isa() == ("avx2" if fast._native.has_avx2() else "portable")
    monkeypatch.delenv(ENV)
    assert fast.native_isa() == _paths()[-1]


def test_bad_arguments_are_refused() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="unknown isa"):
        fast._native.metrics(a, a, 8, 8, 3, 255.0, "sse9")
    with pytest.raises(ValueError, match="H, W >= 7"):
        fast._native.metrics(a, a, 8, 8, 3, 255.0, None, -1)
    with pytest.raises(ValueError, match="H, W >= 7"):
        fast._native.metrics(a, a[:7], 8, 8, 3, 255.0)
    four = np.zeros((8, 8, 4), np.uint8)
    with pytest.raises(ValueError, match="bgr: C == 3"):
        fast._native.metrics(four, four, 8, 8, 4, 255.0, None, 0, 0, True)
    if not fast._native.has_avx2():
        with pytest.raises(ValueError, match="no AVX2"):
            fast._native.metrics(a, a, 8, 8, 3, 255.0, "avx2")
    if not fast._native.has_avx512():
        with pytest.raises(ValueError, match="no AVX-512"):
            fast._native.metrics(a, a, 8, 8, 3, 255.0, "avx512")


def test_without_the_c_kernel_auto_falls_back_to_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """An install without a C compiler has no kernel: ``auto`` hands the frames to the torch
    implementation (whose values tests/metrics/test_fast.py checks against scikit-image).
    A stand-in module records the call, so this test does not pay torch's import."""
    import sys
    import types

    import gt_gen.metrics

    calls = []
    stub = types.ModuleType("gt_gen.metrics.fast_torch")
    stub.batch_metrics = lambda g, c, **kw: calls.append(kw) or [{"ssim": 1.0}]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_gen.metrics.fast_torch", stub)
    monkeypatch.setattr(gt_gen.metrics, "fast_torch", stub, raising=False)
    monkeypatch.setattr(fast, "_native", None)
    assert not fast.native_available() and fast.native_isa() is None
    assert fast.engine_name("cpu") == "torch-cpu"
    a, b = _pair("close", 24, 31, 3, 9)
    assert fast.batch_metrics(a[None], b[None]) == [{"ssim": 1.0}]
    assert calls == [{"device": "cpu", "chunk": 8}]
    with pytest.raises(RuntimeError, match="not built"):
        fast.batch_metrics(a[None], b[None], engine="native")


def test_a_very_wide_row_keeps_its_squared_differences_exact() -> None:
    """The AVX2 path sums (a - b)^2 of a row in int32 lanes, flushed to int64 every 2048 steps:
    a 90000-pixel row of +-255 differences would wrap an int32 lane without the flush."""
    a = np.zeros((7, 90000, 3), np.uint8)
    b = np.full_like(a, 255)
    a[:, ::2], b[:, ::2] = 255, 0
    for isa in _paths():
        got = _run(a, b, isa)
        assert got[1] == 255 * 255 * a.size and got[2] == 255 * a.size
        assert got[3] == float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())
