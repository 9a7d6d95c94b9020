"""sglang's ci-data file names."""

from __future__ import annotations

import dataclasses

import pytest

from gt_gen.cases import load_registry
from gt_gen.errors import ConfigError
from gt_gen.naming import (candidate_image_names, expected_outputs, image_names, key_frame_names,
                           video_name)

REG = load_registry()


def test_video_names_use_the_gpu_count() -> None:
    case = REG.get("ltx_2.3_two_stage_t2v_2gpus")
    assert key_frame_names(case) == {"first": "ltx_2.3_two_stage_t2v_2gpus_2gpu_frame_0.png",
                                     "mid": "ltx_2.3_two_stage_t2v_2gpus_2gpu_frame_mid.png",
                                     "last": "ltx_2.3_two_stage_t2v_2gpus_2gpu_frame_last.png"}
    assert video_name(case) == "ltx_2.3_two_stage_t2v_2gpus_2gpu.mp4"
    assert expected_outputs(case) == list(key_frame_names(case).values())


def test_image_names_and_bad_ids() -> None:
    case = dataclasses.replace(REG.get("tiny_one_stage_t2v"), modality="image")
    # sglang's GT lookup with no output format: jpg, then png, then webp; never .jpeg
    assert image_names(case) == ["tiny_one_stage_t2v_1gpu.jpg", "tiny_one_stage_t2v_1gpu.png",
                                 "tiny_one_stage_t2v_1gpu.webp"]
    assert [n.rsplit(".", 1)[1] for n in image_names(case, "png")] == ["png", "jpg", "webp"]
    assert [n.rsplit(".", 1)[1] for n in image_names(case, "jpeg")] == ["jpg", "png", "webp"]
    assert [n.rsplit(".", 1)[1] for n in image_names(case, "webp")] == ["webp", "png", "jpg"]
    assert candidate_image_names(case)[-1] == "tiny_one_stage_t2v_1gpu.jpeg"
    assert expected_outputs(case) == ["tiny_one_stage_t2v_1gpu.png"]  # what gt-gen writes
    with pytest.raises(ConfigError):
        video_name(dataclasses.replace(case, id="../escape"))
