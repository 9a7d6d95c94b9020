"""The publish quality gate: each rejection rule fires on its own, and good frames pass."""

from __future__ import annotations

import dataclasses

import numpy as np

from gt_gen.cases import load_registry
from gt_gen.store.quality import NOISE_CORR, check_case, neighbour_correlation
from tests.conftest import pattern_frames

TINY = load_registry().get("tiny_one_stage_t2v")
REAL = dataclasses.replace(TINY, model=dataclasses.replace(TINY.model, repo="Lightricks/LTX-2.3"))
W, H = TINY.request.width, TINY.request.height


def good() -> dict[str, np.ndarray]:
    f = pattern_frames(3, h=H, w=W, seed=4)
    return {"first": f[0], "mid": f[1], "last": f[2]}


def noise(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_good_frames_pass() -> None:
    rep = check_case(REAL, good(), None)
    assert rep.ok and not rep.notes


def test_missing_key_frame_and_wrong_size_are_rejected() -> None:
    frames = good()
    del frames["mid"]
    frames["last"] = np.zeros((H * 2, W, 3), np.uint8)
    rep = check_case(REAL, frames, None)
    assert any("missing key frames ['mid']" in p for p in rep.problems)
    assert any(f"is {W}x{H * 2}" in p for p in rep.problems)


def test_near_blank_frame_is_rejected_but_a_smooth_gradient_is_not() -> None:
    frames = good()
    frames["mid"] = np.full((H, W, 3), 17, np.uint8)
    assert any("near-blank" in p for p in check_case(REAL, frames, None).problems)
    grad = np.repeat(np.linspace(0, 255, W, dtype=np.uint8)[None, :, None], H, 0).repeat(3, 2)
    frames["mid"] = grad
    assert check_case(REAL, frames, None).ok


def test_noise_rejected_for_real_models_noted_for_tiny_ones() -> None:
    assert neighbour_correlation(noise()) < NOISE_CORR < neighbour_correlation(good()["first"])
    frames = good() | {"last": noise()}
    assert any("high-frequency noise" in p for p in check_case(REAL, frames, None).problems)
    tiny = check_case(TINY, frames, None)
    assert tiny.ok and any("noise check skipped" in n for n in tiny.notes)  # recorded, not silent


def test_drift_rejected_unless_allowed() -> None:
    prev = good()
    new = {k: 255 - v for k, v in prev.items()}  # inverted: same detail, far from the old GT
    rep = check_case(REAL, new, prev)
    assert not rep.ok and all("--allow-drift" in p for p in rep.problems)
    allowed = check_case(REAL, new, prev, allow_drift=True)
    assert allowed.ok and len(allowed.notes) == 3
    assert check_case(REAL, prev, prev).ok  # unchanged GT never drifts


def test_published_video_must_decode_and_hold_the_case_frame_count(tmp_path) -> None:
    from tests.conftest import write_mp4

    n = REAL.request.num_frames
    ok = write_mp4(tmp_path / "ok.mp4", pattern_frames(n, h=H, w=W))
    assert check_case(REAL, good(), None, video=ok).ok
    short = write_mp4(tmp_path / "short.mp4", pattern_frames(n - 2, h=H, w=W))
    rep = check_case(REAL, good(), None, video=short)
    assert any(f"has {n - 2} frames, the case asks for {n}" in p for p in rep.problems)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(ok.read_bytes()[:200])
    assert any("unreadable" in p for p in check_case(REAL, good(), None, video=broken).problems)
