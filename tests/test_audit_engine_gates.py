"""Engine-specific gates from evidence (issue 15 item 5): ``thresholds/engines/diffusers/``.

For the tiny LTX cases, the diffusers candidate (``candidates --engine diffusers --inject-noise
GT``) is held to gates that ``gt-gen audit`` proves from measurements made here:

* the *cross-implementation noise floor* -- the candidate compared with the official GT
  (``--floor-results``): the gate must pass it with the audit's flake margin to spare;
* the *negative controls* -- the candidate driven with the official seed+1 noise, the official
  seed+1 run, and (fp32) the official run with another prompt (``--negative-results``): the
  gate must fail every one.

At an fp32 GT that holds for every negative; at a bf16 GT the official code's own rounding puts
diffusers as far from the GT as another prompt is, so the bf16 gates are proven against the seed
negatives only, and the audit says no gate can separate the prompt negative (the limit the
thresholds file documents).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from gt_gen.audit import FLAKE_MARGIN
from gt_gen.cli import main
from gt_gen.controls import UNRELATED_PROMPT
from tests.conftest import REPO

ONE, TWO = "tiny_one_stage_t2v", "tiny_two_stage_t2v"
SEL = ["--group", "tiny", "--case", ONE, "--case", TWO]
GATES = REPO / "thresholds" / "engines" / "diffusers"



def cases_variant(root: Path, *, precision: str = "bf16", seed: int | None = None,
                  prompt: str | None = None) -> Path:
    """cases/tiny.toml with the two LTX cases changed (precision, seed or prompt)."""
    root.mkdir(parents=True)
    shutil.copytree(REPO / "cases" / "assets", root / "assets")
    blocks = (REPO / "cases" / "tiny.toml").read_text().split("[[case]]")
    for i, b in enumerate(blocks):
        if not re.search(rf'id = "({ONE}|{TWO})"', b):
            continue
        if precision != "bf16":
            b = b.replace('modality = "video"\n', f'modality = "video"\nprecision = "{precision}"\n', 1)
        if seed is not None:
            b = re.sub(r"\nseed = \d+\n", f"\nseed = {seed}\n", b, count=1)
        if prompt is not None:
            b = re.sub(r'\nprompt = "[^"]*"\n', f'\nprompt = "{prompt}"\n', b, count=1)
        blocks[i] = b
    (root / "tiny.toml").write_text("[[case]]".join(blocks))
    return root


def run(*args: str) -> int:
    return main([*args])


def generate(cases: Path, out: Path) -> Path:
    assert run("generate", "--cases", str(cases), *SEL, "--out", str(out), "--quiet") == 0
    return out


def candidate(cases: Path, noise_from: Path, out: Path, precision: str = "fp32") -> Path:
    assert run("candidates", "--engine", "diffusers", "--cases", str(cases), *SEL, "--inject-noise",
               str(noise_from), "--precision", precision, "--out", str(out)) == 0
    return out


def compare(cases: Path, gt: Path, cand: Path, out: Path, thresholds: Path | None = None) -> tuple[int, Path]:
    th = ["--thresholds", str(thresholds)] if thresholds else []
    rc = run("compare", "--cases", str(cases), *SEL, "--gt", str(gt), "--candidate", str(cand),
             "--out", str(out), "--clip-model", "none", "--no-save-frames", *th)
    return rc, out / "results.json"


def audit(cases: Path, thresholds: Path, out: Path, *, floors: list[Path], negatives: list[Path],
          controls: Path | None = None) -> tuple[int, dict]:
    args = ["audit", "--cases", str(cases), "--group", "tiny", "--thresholds", str(thresholds),
            "--out", str(out), "--fail-on", "warning"]
    args += [a for f in floors for a in ("--floor-results", str(f))]
    args += [a for f in negatives for a in ("--negative-results", str(f))]
    args += ["--controls", str(controls)] if controls else []
    rc = run(*args)
    return rc, json.loads((out / "audit.json").read_text())


def worst(results: Path, case_id: str) -> dict:
    return next(c["worst"] for c in json.loads(results.read_text())["cases"] if c["case_id"] == case_id)


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fp32 GT, its diffusers candidate, and the negatives (seed+1, another prompt), compared."""
    root = tmp_path_factory.mktemp("fp32-gates")
    cases = cases_variant(root / "cases", precision="fp32")
    gt = generate(cases, root / "gt")
    seed = generate(cases_variant(root / "cases-seed", precision="fp32", seed=43), root / "gt-seed")
    prompt = generate(cases_variant(root / "cases-prompt", precision="fp32", prompt=UNRELATED_PROMPT),
                      root / "gt-prompt")
    cand = candidate(cases, gt, root / "cand")
    neg = candidate(cases, seed, root / "cand-seed")
    out = {"cases": cases, "gt": gt, "cand": cand, "neg": neg}
    for name, what in (("floor", cand), ("neg_engine", neg), ("neg_seed", seed), ("neg_prompt", prompt)):
        out[name] = compare(cases, gt, what, root / f"cmp-{name}")[1]
    return out


@pytest.fixture(scope="module")
def bf16(tiny_controls: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny group's bf16 controls (reference = the GT), the diffusers candidate at fp32 and
    bf16, and its seed+1 negative (driven with the official seed+1 run's noise), compared."""
    root = tmp_path_factory.mktemp("bf16-gates")
    cases = REPO / "cases"
    gt = tiny_controls / "reference"
    out = {"cases": cases, "gt": gt, "controls": tiny_controls}
    out["cand"] = candidate(cases, gt, root / "cand")
    out["cand_bf16"] = candidate(cases, gt, root / "cand-bf16", precision="bf16")
    out["neg"] = candidate(cases, tiny_controls / "negative_seed", root / "cand-seed")
    for name, what in (("floor", out["cand"]), ("floor_bf16", out["cand_bf16"]),
                       ("neg_engine", out["neg"]), ("neg_seed", tiny_controls / "negative_seed")):
        out[name] = compare(cases, gt, what, root / f"cmp-{name}")[1]
    return out


@pytest.mark.slow
def test_fp32_candidate_passes_its_gate_and_seed_plus_one_fails(fp32: dict[str, Path], tmp_path: Path) -> None:
    th = GATES / "fp32_gt.json"
    rc, res = compare(fp32["cases"], fp32["gt"], fp32["cand"], tmp_path / "ok", th)
    assert rc == 0, json.loads(res.read_text())["cases"]
    # One-stage: the key frames are identical (fp32 parity); two-stage: the LoRA-fusion gap only.
    assert worst(res, ONE)["ssim"] == 1.0 and worst(res, TWO)["ssim"] > 0.985
    rc, res = compare(fp32["cases"], fp32["gt"], fp32["neg"], tmp_path / "neg", th)
    assert rc == 1 and {c["status"] for c in json.loads(res.read_text())["cases"]} == {"failed"}


@pytest.mark.slow
def test_fp32_gates_are_proven_by_the_audit(fp32: dict[str, Path], tmp_path: Path) -> None:
    """Every negative (seed+1 of the engine and of the official code, another prompt) fails the
    gate, and the engine passes it with the flake margin: no finding at --fail-on warning."""
    rc, data = audit(fp32["cases"], GATES / "fp32_gt.json", tmp_path / "aud", floors=[fp32["floor"]],
                     negatives=[fp32["neg_engine"], fp32["neg_seed"], fp32["neg_prompt"]])
    assert rc == 0, [f for f in data["findings"] if f["severity"] != "info"]
    assert data["meta"]["negatives"][-3:] == ["negative:1", "negative:2", "negative:3"]
    # A gate this engine's floor passes with less than the flake margin to spare is flagged. The
    # gate is set from the floor measured here, not taken from the base file: how far diffusers'
    # two-stage LoRA fusion lands from the official one depends on the CPU's float kernels (on
    # a 2-core Xeon with AVX-512 the floor was SSIM 0.9998, far inside the base gate of 0.99,
    # while the run this test was written on flaked that gate).
    floor = worst(fp32["floor"], TWO)["ssim"]
    base = json.loads((REPO / "thresholds" / "consistency_threshold.json").read_text())
    tight = tmp_path / "tight.json"
    for gate, flakes in ((floor - FLAKE_MARGIN["ssim"] / 2, True), (floor - 2 * FLAKE_MARGIN["ssim"], False)):
        base["cases"][TWO]["ssim_threshold"] = gate
        tight.write_text(json.dumps(base))
        rc, data = audit(fp32["cases"], tight, tmp_path / f"tight-{flakes}", floors=[fp32["floor"]],
                         negatives=[fp32["neg_prompt"]])
        flake = [f for f in data["findings"] if f["kind"] == "flake" and f["case_id"] == TWO]
        assert [f["metric"] for f in flake] == (["ssim"] if flakes else []), (gate, flake)
        assert rc == 1 or not flakes  # (the base file's entries for other groups are warnings too)


@pytest.mark.slow
def test_bf16_candidate_passes_its_gate_and_seed_plus_one_fails(bf16: dict[str, Path], tmp_path: Path) -> None:
    th = GATES / "bf16_gt.json"
    for cand in ("cand", "cand_bf16"):  # either candidate precision
        rc, res = compare(bf16["cases"], bf16["gt"], bf16[cand], tmp_path / cand, th)
        assert rc == 0, (cand, json.loads(res.read_text())["cases"])
    rc, res = compare(bf16["cases"], bf16["gt"], bf16["neg"], tmp_path / "neg", th)
    assert rc == 1 and {c["status"] for c in json.loads(res.read_text())["cases"]} == {"failed"}


@pytest.mark.slow
def test_bf16_gates_are_proven_against_seed_negatives_and_the_prompt_limit_is_said(
        bf16: dict[str, Path], tmp_path: Path) -> None:
    th = GATES / "bf16_gt.json"
    rc, data = audit(bf16["cases"], th, tmp_path / "aud", floors=[bf16["floor"], bf16["floor_bf16"]],
                     negatives=[bf16["neg_engine"], bf16["neg_seed"]])
    assert rc == 0, [f for f in data["findings"] if f["severity"] != "info"]
    # With the official controls (another prompt) the audit says these gates cannot catch it,
    # and for the two-stage case that no gate separates it from diffusers at a bf16 GT.
    rc, data = audit(bf16["cases"], th, tmp_path / "ctl", floors=[bf16["floor"]], negatives=[],
                     controls=bf16["controls"])
    assert rc == 1
    ctl = json.loads((bf16["controls"] / "controls.json").read_text())["cases"]
    can_fail = {(f["case_id"], f["metric"]): f["data"]["negative"] for f in data["findings"]
                if f["kind"] == "can_fail"}
    assert can_fail[(TWO, "ssim")] == ctl[TWO]["negative_prompt"]["ssim"]
    assert any(f["kind"] == "suggestion" and f["case_id"] == TWO for f in data["findings"])


@pytest.mark.slow
def test_a_gate_the_evidence_refutes_is_caught(bf16: dict[str, Path], tmp_path: Path) -> None:
    """The proof has teeth: a gate looser than the seed negative, or tighter than diffusers'
    own distance, fails the same audit."""
    data = json.loads((GATES / "bf16_gt.json").read_text())
    for name, entry, kind in (("loose", {"ssim_threshold": 0.2, "psnr_threshold": 5.0,
                                          "mean_abs_diff_threshold": 100.0}, "can_fail"),
                              ("tight", {"ssim_threshold": 0.99, "psnr_threshold": 40.0,
                                          "mean_abs_diff_threshold": 1.0}, "flake")):
        bad = json.loads(json.dumps(data))
        bad["cases"][ONE] = {"clip_threshold": 0.9, **entry}
        th = tmp_path / f"{name}.json"
        th.write_text(json.dumps(bad))
        rc, out = audit(bf16["cases"], th, tmp_path / name, floors=[bf16["floor"]],
                        negatives=[bf16["neg_engine"]])
        assert rc == 1 and {(f["case_id"], f["kind"]) for f in out["findings"]} >= {(ONE, kind)}, name


def test_results_files_become_named_controls(tmp_path: Path, capsys) -> None:
    """Each --floor-results / --negative-results file is one named control with each evaluated
    case's worst values; a case with no verdict adds nothing; a file that is not results.json
    is one line, exit 2, nothing written."""
    from gt_gen.audit import controls_from_results
    from gt_gen.results import CaseResult, Results, write_results

    good = tmp_path / "floor.json"
    write_results(Results([CaseResult(ONE, "video", "passed", worst={"ssim": 0.99, "psnr": float("inf")}),
                           CaseResult(TWO, "video", "missing_candidate")]), good)
    neg = tmp_path / "neg.json"
    write_results(Results([CaseResult(ONE, "video", "failed", worst={"ssim": 0.2})]), neg)
    data = controls_from_results({"cases": {ONE: {"negative_seed": {"ssim": 0.3}}}},
                                 floors=[str(good)], negatives=[str(neg)])
    assert data["noise_floors"] == ["noise_floor", "floor:1"]
    assert data["negatives"] == ["negative_seed", "negative_prompt", "negative:1"]
    assert data["cases"][ONE] == {"negative_seed": {"ssim": 0.3}, "floor:1": {"ssim": 0.99, "psnr": float("inf")},
                                  "negative:1": {"ssim": 0.2}}
    assert TWO not in data["cases"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"cases": 3}')
    out = tmp_path / "aud"
    capsys.readouterr()
    assert main(["audit", "--group", "tiny", "--floor-results", str(bad), "--out", str(out)]) == 2
    assert str(bad) in capsys.readouterr().err and not out.exists()
