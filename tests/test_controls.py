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


def test_image_controls_read_the_image_gt(tmp_path) -> None:
    """An image case's control output is ``{case}_{n}gpu.png``, not a key frame: before, every
    image case's controls were unscored (None), so the audit could not prove its gate."""
    from gt_gen.controls import _frames, control_files
    from tests.conftest import write_png

    case = load_registry().get("tiny_flux_t2i")
    assert control_files(case) == {"image": "tiny_flux_t2i_1gpu.png"}
    assert control_files(CASE) == {"first": "tiny_two_stage_t2v_1gpu_frame_0.png",
                                   "mid": "tiny_two_stage_t2v_1gpu_frame_mid.png",
                                   "last": "tiny_two_stage_t2v_1gpu_frame_last.png"}
    assert _frames(tmp_path, case) is None
    img = pattern_frames(1, 32, 32)[0]
    write_png(tmp_path / "tiny_flux_t2i_1gpu.png", img)
    got = _frames(tmp_path, case)
    assert got is not None and np.array_equal(got["image"], img)
    assert score(got, got, ClipScorer("none"))["ssim"] == 1.0
