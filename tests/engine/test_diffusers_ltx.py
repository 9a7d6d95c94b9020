"""``gt-gen candidates --engine diffusers``: diffusers' LTX-2 on the GT's weights and noise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gt_gen.cli import main
from tests.conftest import REPO

ONE = "tiny_one_stage_t2v"


@pytest.fixture(scope="session")
def fp32_cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny group with the one-stage case at ``precision = "fp32"``."""
    root = tmp_path_factory.mktemp("fp32-cases")
    src = (REPO / "cases" / "tiny.toml").read_text()
    (root / "tiny.toml").write_text(src.replace('modality = "video"\n',
                                                'modality = "video"\nprecision = "fp32"\n', 1))
    shutil.copytree(REPO / "cases" / "assets", root / "assets")
    return root


@pytest.fixture(scope="session")
def fp32_gt(fp32_cases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fp32-gt")
    assert main(["generate", "--cases", str(fp32_cases), "--group", "tiny", "--case", ONE,
                 "--out", str(out), "--quiet"]) == 0
    return out


def _sel(cases: Path) -> list[str]:
    return ["candidates", "--cases", str(cases), "--group", "tiny", "--case", ONE]


@pytest.mark.slow
def test_fp32_gt_records_precision_and_inputs(fp32_gt: Path) -> None:
    entry = json.loads((fp32_gt / "manifest.json").read_text())["cases"][ONE]
    assert entry["precision"] == "fp32"
    inputs = entry["inputs"]
    assert inputs["file"] == f"{ONE}_1gpu_inputs.safetensors"
    assert inputs["tensors"]["s1.noise.video"] == {"shape": [1, 8, 128], "dtype": "float32"}
    assert inputs["tensors"]["s1.sigmas"]["shape"] == [3]


@pytest.mark.slow
def test_injected_diffusers_candidate_matches_fp32_gt(fp32_cases: Path, fp32_gt: Path,
                                                      tmp_path: Path) -> None:
    from gt_gen.frames import read_key_frames

    out = tmp_path / "cand"
    assert main([*_sel(fp32_cases), "--engine", "diffusers", "--inject-noise", str(fp32_gt),
                 "--out", str(out)]) == 0
    rec = json.loads((out / "candidates.json").read_text())
    assert rec["engine"] == "diffusers" and rec["inject_noise"] is True
    assert rec["cases"][ONE]["status"] == "ok" and rec["cases"][ONE]["file"] == f"{ONE}_1gpu.mp4"
    gt = read_key_frames(fp32_gt / f"{ONE}_1gpu.mp4", ("first", "mid", "last"))
    cand = read_key_frames(out / f"{ONE}_1gpu.mp4", ("first", "mid", "last"))
    for key in gt:
        diff = np.abs(gt[key].astype(int) - cand[key].astype(int))
        assert diff.max() <= 2, (key, diff.max())  # one grey level before the codec


@pytest.mark.slow
def test_tampered_inputs_are_refused_before_anything_runs(fp32_cases: Path, fp32_gt: Path,
                                                          tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    shutil.copytree(fp32_gt, gt)
    f = gt / f"{ONE}_1gpu_inputs.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF  # one bit pattern of the noise changed
    f.write_bytes(bytes(data))
    out = tmp_path / "cand"
    assert main([*_sel(fp32_cases), "--engine", "diffusers", "--inject-noise", str(gt),
                 "--out", str(out)]) == 2
    assert not out.exists()


def test_engine_options_are_checked(tiny_cases: Any, tmp_path: Path) -> None:
    out = tmp_path / "cand"
    assert main([*_sel(tiny_cases), "--engine", "diffusers", "--server", "http://x",
                 "--out", str(out)]) == 2
    assert main([*_sel(tiny_cases), "--engine", "diffusers"]) == 2
    assert main([*_sel(tiny_cases), "--engine", "diffusers", "--device", "tpu",
                 "--out", str(out)]) == 2
    assert main([*_sel(tiny_cases), "--engine", "diffusers", "--inject-noise",
                 str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert not out.exists()


@pytest.fixture
def tiny_cases(tmp_path: Path) -> Path:
    root = tmp_path / "cases"
    root.mkdir()
    shutil.copy(REPO / "cases" / "tiny.toml", root / "tiny.toml")
    shutil.copytree(REPO / "cases" / "assets", root / "assets")
    return root


def test_what_diffusers_cannot_run_is_named_not_failed(tiny_cases: Path, tmp_path: Path) -> None:
    from gt_gen.cases import load_group_file
    from gt_gen.engine.diffusers_ltx import unsupported_reason

    by_id = {c.id: c for c in load_group_file(tiny_cases / "tiny.toml")}
    assert unsupported_reason(by_id["tiny_one_stage_t2v"]) is None
    assert unsupported_reason(by_id["tiny_two_stage_t2v"]) is None
    assert "res2s" in (unsupported_reason(by_id["tiny_hq_ti2v"]) or "")
    out = tmp_path / "cand"
    assert main(["candidates", "--cases", str(tiny_cases), "--group", "tiny", "--case",
                 "tiny_hq_ti2v", "--engine", "diffusers", "--out", str(out)]) == 2
    assert not out.exists()
