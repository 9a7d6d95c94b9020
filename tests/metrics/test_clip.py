"""CLIP: a tiny random model scores; a missing model is unavailable, never passed."""

from __future__ import annotations

import numpy as np

from gt_gen.metrics.clip import ClipScorer


def test_tiny_clip_scores(tiny_clip_dir) -> None:
    clip = ClipScorer(str(tiny_clip_dir))
    assert clip.status.available, clip.status.reason
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    b = 255 - a
    assert abs(clip.score(a, a) - 1.0) < 1e-5
    s = clip.score(a, b)
    assert -1.0 <= s < 0.99999


def test_missing_model_is_unavailable_with_reason(tmp_path) -> None:
    clip = ClipScorer(str(tmp_path / "no-such-model"))
    assert not clip.status.available and "not available" in clip.status.reason
    assert clip.score(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)) is None
