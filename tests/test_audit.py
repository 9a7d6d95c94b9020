"""The audit: toothless gates 'cannot fail', impossible gates 'will flake', sglang files read."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, run_cli
from tests.test_thresholds import SGLANG_FILE


def thresholds(tmp_path: Path, entry: dict, name: str = "th.json") -> Path:
    data = json.loads(json.dumps(SGLANG_FILE))  # sglang's exact format, unchanged
    data["cases"]["tiny_one_stage_t2v"] = entry
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def audit(tmp_path: Path, th: Path, controls: Path, *extra: str):
    out = tmp_path / "audit"
    proc = run_cli("audit", "--thresholds", str(th), "--controls", str(controls), "--group", "tiny",
                   "--out", str(out), *extra)
    data = json.loads((out / "audit.json").read_text()) if (out / "audit.json").exists() else None
    return proc, data


def test_controls_are_real(tiny_controls: Path) -> None:
    data = json.loads((tiny_controls / "controls.json").read_text())
    c = data["cases"]["tiny_one_stage_t2v"]
    assert c["noise_floor"]["ssim"] == 1.0 and c["noise_floor"]["psnr"] == "inf"  # CPU: bit-identical
    assert c["negative_seed"]["ssim"] < 0.9 and c["negative_seed"]["mean_abs_diff"] > 5
    assert (tiny_controls / "reference" / "manifest.json").is_file()


def test_toothless_gate_cannot_fail(tmp_path: Path, tiny_controls: Path) -> None:
    th = thresholds(tmp_path, {"clip_threshold": 0.5, "ssim_threshold": 0.1, "psnr_threshold": 5,
                               "mean_abs_diff_threshold": 100})
    proc, data = audit(tmp_path, th, tiny_controls)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errs = {(f["case_id"], f["metric"]) for f in data["findings"] if f["kind"] == "can_fail"}
    assert {("tiny_one_stage_t2v", "ssim"), ("tiny_one_stage_t2v", "psnr"),
            ("tiny_one_stage_t2v", "mean_abs_diff")} <= errs
    assert "cannot catch" in (tmp_path / "audit" / "audit.md").read_text()


def test_impossible_gate_will_flake(tmp_path: Path, tiny_controls: Path) -> None:
    th = thresholds(tmp_path, {"clip_threshold": 0.99, "ssim_threshold": 1.0, "psnr_threshold": 60,
                               "mean_abs_diff_threshold": 0.0})
    proc, data = audit(tmp_path, th, tiny_controls, "--fail-on", "warning")
    assert proc.returncode == 1
    flakes = {(f["case_id"], f["metric"]) for f in data["findings"] if f["kind"] == "flake"}
    assert {("tiny_one_stage_t2v", "ssim"), ("tiny_one_stage_t2v", "mean_abs_diff")} <= flakes
    assert not any(f["kind"] == "can_fail" and f["case_id"] == "tiny_one_stage_t2v" for f in data["findings"])


def test_suggestions_and_proposal(tmp_path: Path, tiny_controls: Path) -> None:
    th = thresholds(tmp_path, {"ssim_threshold": 0.1})
    prop = tmp_path / "proposal.json"
    proc, data = audit(tmp_path, th, tiny_controls, "--fail-on", "never", "--write-proposal", str(prop))
    assert proc.returncode == 0
    s = data["suggestions"]["tiny_one_stage_t2v"]
    # Rule on a bit-identical noise floor: SSIM capped at 0.95, PSNR at 30, MAD floor 4.
    neg = json.loads((tiny_controls / "controls.json").read_text())["cases"]["tiny_one_stage_t2v"]
    assert s["ssim"] >= 0.95 and s["ssim"] > max(neg["negative_seed"]["ssim"], neg["negative_prompt"]["ssim"])
    # PSNR: 30 by the rule, raised to clear the closest negative control by the separation margin.
    neg_psnr = max(float(neg["negative_seed"]["psnr"]), float(neg["negative_prompt"]["psnr"]))
    assert s["psnr"] == round(max(30.0, neg_psnr + 0.5), 4) and s["mean_abs_diff"] == 4
    proposed = json.loads(prop.read_text())
    assert proposed["cases"]["tiny_one_stage_t2v"]["ssim_threshold"] == s["ssim"]
    assert "PROPOSAL" in proposed["_comment"]
    assert json.loads(th.read_text())["cases"]["tiny_one_stage_t2v"] == {"ssim_threshold": 0.1}  # live file untouched


def test_proposal_never_overwrites_the_live_file(tmp_path: Path, tiny_controls: Path) -> None:
    th = thresholds(tmp_path, {"ssim_threshold": 0.1})
    before = th.read_text()
    proc, _ = audit(tmp_path, th, tiny_controls, "--write-proposal", str(th))
    assert proc.returncode == 2 and "live thresholds file" in proc.stderr
    assert th.read_text() == before


def test_shipped_thresholds_pass_the_audit(tmp_path: Path, tiny_controls: Path) -> None:
    proc, data = audit(tmp_path, REPO / "thresholds" / "consistency_threshold.json", tiny_controls)
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    # Every shipped tiny gate fails both negative controls (no can_fail error anywhere). The one
    # known gap: the tiny FLUX.2 models barely react to their prompt, so no gate can clear the
    # prompt control by the separation margin without flaking: the audit says so, and we keep it.
    assert not [f for f in errors if f["kind"] == "can_fail"], proc.stdout
    assert {(f["case_id"], f["kind"]) for f in errors} <= {("tiny_flux2_t2i", "suggestion"),
                                                          ("tiny_flux2_klein_t2i", "suggestion")}, proc.stdout
    assert proc.returncode == (1 if errors else 0)


def test_history_headroom_and_coverage(tmp_path: Path, tiny_gt: Path, tiny_controls: Path) -> None:
    out = tmp_path / "cmp"
    assert run_cli("compare", "--group", "tiny", "--gt", str(tiny_gt), "--candidate", str(tiny_gt),
                   "--out", str(out), "--clip-model", "none").returncode == 0
    db = tmp_path / "h.sqlite"
    imp = run_cli("history", "import", "--db", str(db), str(out / "results.json"), str(out / "results.json"))
    assert imp.returncode == 0 and "imported 1 new run(s)" in imp.stdout
    proc = run_cli("audit", "--history", str(db), "--group", "all", "--out", str(tmp_path / "a"), "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "a" / "audit.json").read_text())
    kinds = {(f["case_id"], f["kind"]) for f in data["findings"]}
    assert ("tiny_one_stage_t2v", "headroom") in kinds
    assert ("ltx_2_3_hq_pipeline", "coverage") in kinds  # on defaults, never measured


def test_a_nan_floor_proposes_no_number_and_nothing_is_half_written(tmp_path: Path) -> None:
    """results.json may hold "nan" for a metric that could not be computed: the audit then
    suggests nothing for that metric (a thresholds file cannot hold NaN), and its files are
    all written or none (the proposal used to fail after audit.json was written: exit 3)."""
    floor = tmp_path / "floor.json"
    floor.write_text(json.dumps({"schema_version": 1, "meta": {}, "cases": [
        {"case_id": "tiny_flux_t2i", "modality": "image", "status": "passed",
         "worst": {"ssim": "nan", "psnr": 50.0, "mean_abs_diff": 0.1}}]}))
    out = tmp_path / "out"
    proc = run_cli("audit", "--group", "tiny", "--out", str(out), "--floor-results", str(floor),
                   "--write-proposal", str(tmp_path / "proposal.json"), "--fail-on", "never")
    assert proc.returncode == 0, proc.stderr
    audit = json.loads((out / "audit.json").read_text())
    assert "ssim" not in audit["suggestions"].get("tiny_flux_t2i", {})
    assert audit["suggestions"]["tiny_flux_t2i"]["psnr"] == 30.0  # the finite ones still are
    assert json.loads((tmp_path / "proposal.json").read_text())["cases"]
