"""Control variants differ from the case in exactly one field; scores take the worst frame."""

from __future__ import annotations

import math

import numpy as np

from gt_gen.cases import load_registry
from gt_gen.controls import UNRELATED_PROMPT, score, variants
from gt_gen.metrics.clip import ClipScorer
from tests.conftest import pattern_frames

CASE = load_registry().get("tiny_two_stage_t2v")


def test_variants_change_one_thing() -> None:
    v = variants(CASE)
    assert set(v) == {"negative_seed", "negative_prompt"}
    assert v["negative_seed"].request.seed == CASE.request.seed + 1
    assert v["negative_seed"].request.prompt == CASE.request.prompt
    assert v["negative_prompt"].request.prompt == UNRELATED_PROMPT
    assert v["negative_prompt"].request.seed == CASE.request.seed
    assert all(c.id == CASE.id and c.model == CASE.model for c in v.values())


def test_score_is_the_worst_frame() -> None:
    f = pattern_frames(3, 48, 64, seed=2)
    ref = {"first": f[0], "mid": f[1], "last": f[2]}
    other = dict(ref)
    other["mid"] = np.clip(f[1].astype(int) + 40, 0, 255).astype(np.uint8)
    s = score(ref, other, ClipScorer("none"))
    assert s["ssim"] < 1.0 and 0 < s["mean_abs_diff"] <= 40 and math.isfinite(s["psnr"])
    assert s["clip"] is None  # unavailable CLIP is None, never a pass
    same = score(ref, ref, ClipScorer("none"))
    assert same["ssim"] == 1.0 and same["psnr"] == math.inf and same["mean_abs_diff"] == 0.0
