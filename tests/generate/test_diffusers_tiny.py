"""Every diffusers family end to end on its tiny model (the session's ``generate --group tiny``):
images and video in ci-data naming, what the manifest records, load once, bit-identical reruns,
and pictures that another seed changes (negative control SSIM <= 0.6 for every tiny case)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from gt_gen.cases import load_registry
from gt_gen.frames import read_image, video_frame_count
from tests.conftest import run_cli

REG = load_registry()
DIFFUSERS = [c for c in REG.select(group="tiny") if c.backend == "diffusers"]
FAMILIES = {"wan", "flux", "flux2", "qwen_image", "zimage"}


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.slow
def test_every_family_generates_its_gt(tiny_gt: Path) -> None:
    m = manifest(tiny_gt)
    assert {c.request.family.family for c in DIFFUSERS} == FAMILIES
    assert m["environment"]["diffusers"] == "0.39.0"
    for case in DIFFUSERS:
        e = m["cases"][case.id]
        assert e["status"] == "ok", e
        assert e["pipeline_class"] == f"diffusers.{case.pipeline}" and e["backend"] == "diffusers"
        assert e["implementation"] == case.implementation and e["dtype"] == "bf16"
        assert e["generator_device"] == "cpu" and e["call"]["prompt"] == case.request.prompt
        assert e["model"]["repo"] == "tiny" and "model_index.json" in e["model"]["files_sha256"]
        if case.modality == "image":
            assert set(e["files"]) == {f"{case.id}_1gpu.png"}
            img = read_image(tiny_gt / f"{case.id}_1gpu.png")
            assert img.shape == (64, 64, 3) and img.std() > 10  # a picture, not a flat field
        else:
            assert video_frame_count(tiny_gt / f"{case.id}_1gpu.mp4") == case.request.num_frames
            assert {f"{case.id}_1gpu_frame_{k}.png" for k in ("0", "mid", "last")} <= set(e["files"])
    edit = m["cases"]["tiny_qwen_image_edit_plus_ti2i"]
    assert set(edit["tiny_overrides"]) == {
        "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus.VAE_IMAGE_SIZE",
        "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus.CONDITION_IMAGE_SIZE"}
    assert [i["sha256"][:8] for i in edit["call"]["images"]] == ["e7b5f207", "82ca9ff8"]
    assert edit["call"]["true_cfg_scale"] == 4.0 and edit["call"]["guidance_scale"] is None
    assert "processor" in edit
    assert all("tiny_overrides" not in m["cases"][c.id] for c in DIFFUSERS
               if c.pipeline not in ("QwenImageEditPlusPipeline", "QwenImageLayeredPipeline"))


@pytest.mark.slow
def test_load_once_and_bit_identical_reruns(tiny_gt: Path, tmp_path: Path) -> None:
    """A second case of the same model loads nothing; a fresh process (no reuse) makes the very
    same frames."""
    from gt_gen.generate.progress import Progress
    from gt_gen.generate.runner import GroupRun

    flux = REG.get("tiny_flux_t2i")
    again = dataclasses.replace(flux, id="tiny_flux_t2i_again")
    group = GroupRun([flux, again], tmp_path / "group", progress=Progress(quiet=True))
    assert group.run() == 0
    a, b = group.manifest["cases"][flux.id], group.manifest["cases"][again.id]
    assert a["model_builds"] == 1 and b["model_builds"] == 0 and b["timings"]["load_s"] == 0
    assert a["raw_frames_sha256"] == b["raw_frames_sha256"]
    out = tmp_path / "fresh"
    fresh = ("tiny_wan_t2v", "tiny_qwen_image_edit_plus_ti2i", "tiny_qwen_image_layered_i2i")
    ids = [arg for cid in fresh for arg in ("--case", cid)]
    proc = run_cli("generate", "--group", "tiny", *ids, "--out", str(out), "--quiet", "--reuse", "none")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for cid in fresh:
        assert manifest(out)["cases"][cid]["raw_frames_sha256"] == \
            manifest(tiny_gt)["cases"][cid]["raw_frames_sha256"]
    assert a["raw_frames_sha256"] == manifest(tiny_gt)["cases"][flux.id]["raw_frames_sha256"]


@pytest.mark.slow
def test_another_seed_is_another_picture_for_every_tiny_case(tiny_controls: Path) -> None:
    """Item 7: the seed+1 control of every tiny case (LTX and diffusers) lands at SSIM <= 0.6,
    while the noise floor (a fresh pipeline, same seed) is bit-identical."""
    res = json.loads((tiny_controls / "controls.json").read_text())
    tiny = {c.id for c in REG.select(group="tiny")}
    assert set(res["cases"]) == tiny
    for cid, entry in res["cases"].items():
        assert entry["negative_seed"]["ssim"] <= 0.6, (cid, entry["negative_seed"])
        assert entry["noise_floor"]["ssim"] == 1.0 and entry["noise_floor"]["mean_abs_diff"] == 0, cid


@pytest.mark.slow
def test_generate_one_case_into_an_existing_gt_folder(tiny_gt: Path, tmp_path: Path) -> None:
    """Issue 14: ``generate --case X --out DIR`` into a full GT folder keeps the others; compare
    then accepts the folder (before: integrity error, the manifest listed X only)."""
    import shutil

    gt = tmp_path / "gt"
    shutil.copytree(tiny_gt, gt)
    proc = run_cli("generate", "--group", "tiny", "--case", "tiny_zimage_t2i", "--out", str(gt), "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = manifest(gt)
    assert set(m["cases"]) == {c.id for c in REG.select(group="tiny")} and m["previous_runs"]
    cmp = run_cli("compare", "--group", "tiny", "--gt", str(gt), "--candidate", str(tiny_gt),
                  "--out", str(tmp_path / "cmp"), "--clip-model", "none")
    assert cmp.returncode == 0, cmp.stdout[-2000:] + cmp.stderr[-2000:]
    assert np.array_equal(read_image(gt / "tiny_zimage_t2i_1gpu.png"),
                          read_image(tiny_gt / "tiny_zimage_t2i_1gpu.png"))


@pytest.mark.slow
def test_tiny_gates_are_proven_by_the_audit(tiny_controls: Path, tmp_path: Path) -> None:
    """Item 6: with the controls, the shipped gate of every tiny case can fail (stricter than the
    negative controls) and will not flake (looser than the noise floor)."""
    out = tmp_path / "audit"
    proc = run_cli("audit", "--controls", str(tiny_controls), "--group", "tiny", "--out", str(out),
                   "--fail-on", "warning")
    data = json.loads((out / "audit.json").read_text())
    bad = [f for f in data["findings"] if f["kind"] in ("can_fail", "flake", "suggestion")]
    assert proc.returncode == 0 and not bad, (proc.stdout[-2000:], bad)
    gated = {f["case_id"] for f in data["findings"] if f["kind"] == "coverage"}
    assert not gated & {c.id for c in REG.select(group="tiny")}  # each has its own gate
