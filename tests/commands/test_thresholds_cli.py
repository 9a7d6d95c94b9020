"""``gt-gen thresholds check``: validates, then prints each case's resolved gate and its source."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, run_cli


def row(out: str, case_id: str) -> str:
    return next(ln for ln in out.splitlines() if ln.startswith(case_id + " "))


def test_check_prints_resolved_gates_with_sources(tmp_path: Path) -> None:
    proc = run_cli("thresholds", "check", str(REPO / "thresholds" / "consistency_threshold.json"))
    assert proc.returncode == 0, proc.stderr
    assert ": OK (" in proc.stdout.splitlines()[0]
    assert "0.89 [" in row(proc.stdout, "ltx_2_two_stage_t2v")
    assert "default" in row(proc.stdout, "ltx_2_3_hq_pipeline")  # no entry: gated by defaults


def test_platform_overlay_replaces_the_whole_entry(tmp_path: Path) -> None:
    base = {"cases": {"ltx_2_two_stage_t2v": {"ssim_threshold": 0.89, "psnr_threshold": 22.0}},
            "default_ssim_threshold_video": 0.92}
    (tmp_path / "platforms").mkdir()
    (tmp_path / "consistency_threshold.json").write_text(json.dumps(base))
    (tmp_path / "platforms" / "h200.json").write_text(
        json.dumps({"cases": {"ltx_2_two_stage_t2v": {"ssim_threshold": 0.8}}}))
    proc = run_cli("thresholds", "check", str(tmp_path / "consistency_threshold.json"), "--platform", "h200")
    assert proc.returncode == 0, proc.stderr
    line = row(proc.stdout, "ltx_2_two_stage_t2v")
    assert "0.8 [" in line and "22 [" not in line  # psnr falls back past the replaced entry
    missing = run_cli("thresholds", "check", str(tmp_path / "consistency_threshold.json"), "--platform", "b200")
    assert missing.returncode == 2 and "b200" in missing.stderr
