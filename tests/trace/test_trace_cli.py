"""``gt-gen trace``: trace.json / trace.html, a directory candidate, bad input before any run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from gt_gen.cli import main
from gt_gen.trace.compare import compare_traces, parse_tolerances
from gt_gen.trace.report import trace_html, trace_json
from gt_gen.trace.stages import load_dir, ordered, save_dir


def _args(cases: Path, out: Path, *extra: str) -> list[str]:
    return ["trace", "--cases", str(cases), "--case", "tiny_one_stage_t2v", "--out", str(out), *extra]


def test_stage_order_is_the_pipeline_order() -> None:
    names = ["decoded.audio", "s1.step01.latent.video", "s1.sigmas", "text.neg_video",
             "s2.step00.denoised.video", "upsampled.video", "s1.step00.latent.audio",
             "s1.step00.denoised.video", "decoded.frames", "s1.noise.video", "text.video",
             "decode.noise.video"]
    assert ordered(names) == ["text.video", "text.neg_video", "s1.noise.video", "s1.sigmas",
                              "s1.step00.denoised.video", "s1.step00.latent.audio",
                              "s1.step01.latent.video", "upsampled.video",
                              "s2.step00.denoised.video", "decode.noise.video", "decoded.frames",
                              "decoded.audio"]


def test_compare_names_the_first_stage_out_of_tolerance() -> None:
    ref = {"text.video": torch.ones(1, 4, 8), "s1.sigmas": torch.tensor([1.0, 0.5, 0.0]),
           "s1.step00.latent.video": torch.randn(1, 8, 4, generator=torch.Generator().manual_seed(0)),
           "decoded.frames": torch.full((3, 4, 4, 3), 100, dtype=torch.uint8)}
    cand = {k: v.clone() for k, v in ref.items()}
    assert compare_traces(ref, cand).first_divergent is None
    cand["s1.step00.latent.video"] = cand["s1.step00.latent.video"] * 1.01
    cand["decoded.frames"][1, 0, 0, 0] = 90
    c = compare_traces(ref, cand)
    assert c.first_divergent == "s1.step00.latent.video"
    frames = next(s for s in c.stages if s.name == "decoded.frames")
    assert frames.psnr_per_frame[0] == float("inf") and frames.psnr_per_frame[1] < 60
    cand["text.video"] = torch.ones(1, 4, 9)  # a shape mismatch is a divergence too
    assert compare_traces(ref, cand).first_divergent == "text.video"
    del cand["text.video"]  # a stage the candidate did not record is listed, never named
    c = compare_traces(ref, cand)
    assert c.first_divergent == "s1.step00.latent.video"
    assert c.stages[0].status == "missing_in_candidate"
    loose = parse_tolerances(["latent=0.1"])
    assert compare_traces(ref, cand, loose).first_divergent == "decoded.frames"
    doc = trace_json(c, case_id="x", reference={"engine": "official"}, candidate={"engine": "dir"},
                     injected=True, tolerances=loose, notes=["n"])
    json.dumps(doc, allow_nan=False)  # strict JSON: inf PSNR written as "inf"
    page = trace_html(doc)
    assert "<svg" in page and "s1.step00.latent.video" in page and "<script" not in page


@pytest.mark.parametrize("item", ["latent", "bogus=1", "latent=abc", "latent=-1", "frames=nan"])
def test_bad_tolerance_is_refused(item: str) -> None:
    from gt_gen.errors import ConfigError

    with pytest.raises(ConfigError):
        parse_tolerances([item])


def test_bad_input_is_exit_2_before_any_run(tiny_cases_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = tmp_path / "cand"
    bad.mkdir()
    (bad / "s1.sigmas.safetensors").write_bytes(b"not safetensors")
    assert main(_args(tiny_cases_dir, out, "--candidate", str(bad))) == 2
    assert main(_args(tiny_cases_dir, out, "--candidate", str(tmp_path / "missing"))) == 2
    assert main(_args(tiny_cases_dir, out, "--candidate", "diffusers", "--tolerance", "x=1")) == 2
    assert main(["trace", "--cases", str(tiny_cases_dir), "--case", "tiny_hq_ti2v", "--candidate",
                 "diffusers", "--out", str(out)]) == 2
    assert main(["trace", "--cases", str(tiny_cases_dir), "--case", "nope", "--candidate",
                 "diffusers", "--out", str(out)]) == 2
    assert not out.exists()


def test_stage_directory_round_trip_and_strict_names(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from gt_gen.errors import InputFileError

    t = {"s1.sigmas": torch.tensor([1.0, 0.0]), "decoded.frames": torch.zeros(1, 2, 2, 3, dtype=torch.uint8)}
    save_dir(t, tmp_path / "d")
    back = load_dir(tmp_path / "d")
    assert set(back) == set(t) and all(torch.equal(back[k], t[k]) for k in t)
    save_file({"a": torch.zeros(1), "b": torch.zeros(1)}, str(tmp_path / "d" / "text.video.safetensors"))
    with pytest.raises(InputFileError, match="exactly one tensor"):
        load_dir(tmp_path / "d")


@pytest.mark.slow
def test_trace_a_directory_candidate(tiny_cases_dir: Path, tmp_path: Path,
                                     diffusers_fp32: Any) -> None:
    """An engine traced from its own stage files: a wrong sigma schedule is named exit 1."""
    cand = dict(diffusers_fp32.tensors)
    cand["s1.sigmas"] = cand["s1.sigmas"] * 0.9
    save_dir(cand, tmp_path / "cand")
    out = tmp_path / "out"
    assert main(_args(tiny_cases_dir, out, "--candidate", str(tmp_path / "cand"),
                      "--precision", "fp32", "--save-tensors")) == 1
    doc = json.loads((out / "trace.json").read_text())
    assert doc["schema_version"] == 1 and doc["first_divergent_stage"] == "s1.sigmas"
    assert doc["reference"]["precision"] == "fp32" and doc["candidate"]["engine"] == "directory"
    assert "<svg" in (out / "trace.html").read_text()
    ref = load_dir(out / "reference")
    assert torch.equal(ref["s1.sigmas"], diffusers_fp32.tensors["s1.sigmas"])
    # the reference's stages are themselves a candidate that matches
    assert main(_args(tiny_cases_dir, tmp_path / "out2", "--candidate", str(out / "reference"),
                      "--precision", "fp32")) == 0
