"""The official LTX-2 pipelines end to end on tiny checkpoints: outputs, manifest, determinism,
faults (the diffusers families: test_diffusers_tiny.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from gt_gen.frames import read_image, video_frame_count
from tests.conftest import run_cli

TINY = ("tiny_one_stage_t2v", "tiny_two_stage_t2v", "tiny_hq_ti2v")
CLASSES = {"tiny_one_stage_t2v": "TI2VidOneStagePipeline",
           "tiny_two_stage_t2v": "TI2VidTwoStagesPipeline",
           "tiny_hq_ti2v": "TI2VidTwoStagesHQPipeline"}


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_all_three_official_pipelines(tiny_gt: Path) -> None:
    m = manifest(tiny_gt)
    from gt_gen.cases import load_registry

    n = len(load_registry().select(group="tiny"))  # every backend's tiny cases
    assert m["environment"]["ltx_pipelines"] == "1.0.0" and m["summary"] == {"cases": n, "failed": 0}
    for cid in TINY:
        e = m["cases"][cid]
        assert e["status"] == "ok", e
        assert e["pipeline_class"].endswith(CLASSES[cid])
        assert e["frames"] == 9 and e["size"] == [64, 64]
        assert video_frame_count(tiny_gt / f"{cid}_1gpu.mp4") == 9
        for name, digest in e["files"].items():
            assert hashlib.sha256((tiny_gt / name).read_bytes()).hexdigest() == digest
        for key in ("0", "mid", "last"):
            img = read_image(tiny_gt / f"{cid}_1gpu_frame_{key}.png")
            assert img.shape == (64, 64, 3) and img.std() > 5  # not blank
        t = e["timings"]
        assert t["load_s"] >= 0 and t["pipeline_s"] > 0 and t["total_s"] >= t["pipeline_s"]
        assert e["model"]["repo"] == "tiny" and e["model"]["files_sha256"]
    assert not list(tiny_gt.glob(".*part*")), "temporary files left behind"


def test_models_are_built_once_per_group(tiny_gt: Path) -> None:
    m = manifest(tiny_gt)
    builds = [m["cases"][c]["model_builds"] for c in TINY]
    # The first case builds text encoder, processor, VAE, transformer...; later cases only
    # what differs (their transformers with other LoRAs, the upsampler).
    assert builds[0] >= 5 and all(b < builds[0] for b in builds[1:])


def test_same_case_twice_is_bit_identical_and_reuse_changes_nothing(tiny_gt: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    proc = run_cli("generate", "--group", "tiny", "--case", "tiny_hq_ti2v", "--out", str(out),
                   "--quiet", "--reuse", "none")
    assert proc.returncode == 0, proc.stderr
    a, b = manifest(tiny_gt)["cases"]["tiny_hq_ti2v"], manifest(out)["cases"]["tiny_hq_ti2v"]
    assert a["raw_frames_sha256"] == b["raw_frames_sha256"]
    for key in ("0", "mid", "last"):
        name = f"tiny_hq_ti2v_1gpu_frame_{key}.png"
        assert np.array_equal(read_image(tiny_gt / name), read_image(out / name))


def test_another_seed_changes_the_output(tiny_gt: Path, cases_dir: Path, tmp_path: Path) -> None:
    f = cases_dir / "tiny.toml"
    f.write_text(f.read_text().replace("seed = 42", "seed = 7", 1))
    out = tmp_path / "seed7"
    proc = run_cli("generate", "--cases", str(cases_dir), "--group", "tiny", "--case",
                   "tiny_one_stage_t2v", "--out", str(out), "--quiet", "--reuse", "state_dicts")
    assert proc.returncode == 0, proc.stderr
    assert (manifest(out)["cases"]["tiny_one_stage_t2v"]["raw_frames_sha256"]
            != manifest(tiny_gt)["cases"]["tiny_one_stage_t2v"]["raw_frames_sha256"])


def test_a_failing_case_does_not_stop_the_group(cases_dir: Path, tmp_path: Path) -> None:
    f = cases_dir / "tiny.toml"
    text = f.read_text()
    sha = "91a34357fd81a91eec823bdd13d8c06e172a8beeb36b894d7ef483925d29472c"
    f.write_text(text.replace(sha, "0" * 64))  # tamper with the pinned image hash
    out = tmp_path / "faulty"
    proc = run_cli("generate", "--cases", str(cases_dir), "--group", "tiny", "--case", "tiny_hq_ti2v",
                   "--case", "tiny_one_stage_t2v", "--out", str(out))
    assert proc.returncode == 1
    m = manifest(out)
    assert m["cases"]["tiny_hq_ti2v"]["status"] == "failed"
    assert "sha256" in m["cases"]["tiny_hq_ti2v"]["error"]
    assert m["cases"]["tiny_one_stage_t2v"]["status"] == "ok"
    assert not (out / "tiny_hq_ti2v_1gpu.mp4").exists()
    assert "[1/2] tiny_hq_ti2v: failed" in proc.stderr  # plain progress lines off a terminal


def test_full_profile_needs_pins_and_names_missing_weights(tmp_path: Path) -> None:
    out = tmp_path / "full"
    # An input known only by sglang's URL and not pinned stops the case before any weights are
    # looked up (a GPU job must not download 60 GB first and then fail on a missing image).
    proc = run_cli("generate", "--group", "ltx", "--case", "ltx_2.3_one_stage_ti2v", "--out", str(out),
                   "--quiet", "--allow-unpinned", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 1
    err = manifest(out)["cases"]["ltx_2.3_one_stage_ti2v"]["error"]
    assert "is not pinned" in err and "gt-gen assets pin --case ltx_2.3_one_stage_ti2v" in err
    assert "safetensors" not in err
    case = "ltx_2.3_two_stage_t2v_2gpus"
    proc = run_cli("generate", "--group", "ltx", "--case", case, "--out", str(out), "--quiet")
    assert proc.returncode == 1
    err = manifest(out)["cases"][case]["error"]
    assert "not a 40-hex commit" in err
    proc = run_cli("generate", "--group", "ltx", "--case", case, "--out", str(out),
                   "--quiet", "--allow-unpinned", env={"HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_secret_value_123"})
    err = manifest(out)["cases"][case]["error"]
    assert "ltx-2.3-22b-dev.safetensors" in err and "Lightricks/LTX-2.3@main" in err and "--weights-dir" in err
    assert "hf_secret_value_123" not in (out / "manifest.json").read_text() + proc.stderr + proc.stdout


def test_native_only_cases_get_no_official_gt(tmp_path: Path) -> None:
    out = tmp_path / "native"
    proc = run_cli("generate", "--group", "ltx", "--case", "ltx_2_two_stage_t2v", "--out", str(out), "--quiet")
    assert proc.returncode == 1
    assert "only generated for official-comparable" in manifest(out)["cases"]["ltx_2_two_stage_t2v"]["error"]


def test_round_trip_generate_then_compare(tiny_gt: Path, tmp_path: Path) -> None:
    cand = tmp_path / "cand"
    shutil.copytree(tiny_gt, cand)
    proc = run_cli("compare", "--group", "tiny", "--gt", str(tiny_gt), "--candidate", str(cand),
                   "--out", str(tmp_path / "cmp"), "--clip-model", "none")
    assert proc.returncode == 0, proc.stdout + proc.stderr
