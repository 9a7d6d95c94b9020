"""Thresholds: sglang's format loads unchanged; resolution order; strict validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gt_gen.errors import ConfigError
from gt_gen.thresholds import load_thresholds

# A file in sglang's exact format (no schema_version, _comment, audio defaults).
SGLANG_FILE = {
    "_comment": "Consistency thresholds for diffusion CI",
    "default_clip_threshold_image": 0.92, "default_ssim_threshold_image": 0.95,
    "default_psnr_threshold_image": 28, "default_mean_abs_diff_threshold_image": 8,
    "default_clip_threshold_video": 0.90, "default_ssim_threshold_video": 0.92,
    "default_psnr_threshold_video": 24, "default_mean_abs_diff_threshold_video": 10,
    "default_audio_spectral_similarity_threshold": 0.9,
    "default_audio_waveform_correlation_threshold": 0.8,
    "default_audio_rms_db_diff_threshold": 3.0, "default_audio_duration_diff_threshold": 0.1,
    "cases": {
        "ltx_2_two_stage_t2v": {"clip_threshold": 0.9, "ssim_threshold": 0.89,
                                "psnr_threshold": 22, "mean_abs_diff_threshold": 12},
        "wan_video": {"clip_threshold": 0.8, "ssim_threshold": 0.12, "psnr_threshold": 10,
                      "mean_abs_diff_threshold": 60},
    },
}


def write(tmp_path: Path, obj: dict, name: str = "consistency_threshold.json") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def test_sglang_file_loads_unchanged(tmp_path: Path) -> None:
    th = load_thresholds(write(tmp_path, SGLANG_FILE))
    g = th.gates("ltx_2_two_stage_t2v", "video")
    assert g["ssim"].value == 0.89 and g["ssim"].source == "case"
    d = th.gates("other", "image")
    assert (d["clip"].value, d["ssim"].value, d["psnr"].value, d["mean_abs_diff"].value) == (0.92, 0.95, 28, 8)
    assert th.base.audio_defaults["default_audio_rms_db_diff_threshold"] == 3.0


def test_shipped_file_has_ltx20_gate() -> None:
    th = load_thresholds()
    assert th.gates("ltx_2_two_stage_t2v", "video")["ssim"].value == 0.89


def test_platform_overlay_replaces_whole_entry(tmp_path: Path) -> None:
    base = write(tmp_path, SGLANG_FILE)
    write(tmp_path, {"cases": {"ltx_2_two_stage_t2v": {"ssim_threshold": 0.8}}}, "platforms/h100.json")
    th = load_thresholds(base, "h100")
    g = th.gates("ltx_2_two_stage_t2v", "video")
    assert g["ssim"].value == 0.8 and g["ssim"].source == "platform:h100"
    # Whole-entry replacement: the base entry's PSNR 22 is not inherited; the default applies.
    assert g["psnr"].value == 24 and g["psnr"].source == "default"
    assert load_thresholds(base, "b200").overlay is None  # no overlay file: base only


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda d: d.update(ssim_treshold=1), "unknown key 'ssim_treshold'"),
    (lambda d: d["cases"]["wan_video"].update(ssim_threshold=1.5), "outside"),
    (lambda d: d["cases"]["wan_video"].update(psnr_threshold="high"), "must be a number"),
    (lambda d: d["cases"]["wan_video"].update(clip=0.5), "unknown key 'clip'"),
    (lambda d: d.update(schema_version=99), "schema_version"),
    (lambda d: d.update(cases=[]), "'cases' must be an object"),
])
def test_invalid_files_are_refused(tmp_path: Path, mutate, needle: str) -> None:
    data = json.loads(json.dumps(SGLANG_FILE))
    mutate(data)
    with pytest.raises(ConfigError, match=needle):
        load_thresholds(write(tmp_path, data))


def test_malformed_json_names_position(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"cases": {')
    with pytest.raises(ConfigError, match="malformed JSON at line 1"):
        load_thresholds(path)


def test_gate_direction_and_inf() -> None:
    g = load_thresholds().gates("x", "video")
    assert g["psnr"].passes(math.inf) and not g["psnr"].passes(10)
    assert g["mean_abs_diff"].passes(0.0) and not g["mean_abs_diff"].passes(50)
    assert not g["ssim"].passes(math.nan)
