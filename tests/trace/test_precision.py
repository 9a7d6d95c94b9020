"""Precision as a case property: fp32 runs the official pipelines without editing their files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch

from gt_gen.errors import ConfigError
from gt_gen.trace.official_hooks import PIPELINE_MODULES, official_precision, torch_dtype


def _package_digest() -> str:
    import ltx_core
    import ltx_pipelines

    h = hashlib.sha256()
    for pkg in (ltx_pipelines, ltx_core):
        for p in sorted(Path(pkg.__file__).parent.rglob("*.py")):
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
def test_fp32_override_is_runtime_only_and_restored(one_model: Any) -> None:
    import importlib

    from ltx_pipelines.utils import samplers

    before = _package_digest()
    mods = [importlib.import_module(m) for m in PIPELINE_MODULES]
    with official_precision("fp32"):
        assert all(m.torch.bfloat16 is torch.float32 for m in mods)
        assert all(m.torch.Generator is torch.Generator for m in mods)
        assert samplers.res2s_audio_video_denoising_loop.__defaults__ is None or \
            torch.bfloat16 not in samplers.res2s_audio_video_denoising_loop.__defaults__
        from ltx_pipelines.ti2vid_one_stage import TI2VidOneStagePipeline

        pipe = TI2VidOneStagePipeline(checkpoint_path=str(one_model.checkpoint),
                                      gemma_root=str(one_model.gemma_root), loras=[],
                                      device=torch.device("cpu"))
        assert pipe.model_ledger.dtype == torch.float32 and pipe.dtype == torch.float32
    assert all(m.torch is torch for m in mods)
    assert torch.bfloat16 in samplers.res2s_audio_video_denoising_loop.__defaults__
    with official_precision("bf16"):
        assert all(m.torch is torch for m in mods)
    assert _package_digest() == before  # nothing on disk was touched


def test_override_is_restored_after_an_error() -> None:
    import importlib

    mod = importlib.import_module(PIPELINE_MODULES[0])
    with pytest.raises(RuntimeError), official_precision("fp32"):
        raise RuntimeError("boom")
    assert mod.torch is torch


@pytest.mark.parametrize("bad", ["fp16", "FP32", "", "float32"])
def test_unknown_precision_is_refused(bad: str, tmp_path: Path) -> None:
    from gt_gen.cases import load_group_file

    with pytest.raises(ConfigError):
        torch_dtype(bad)
    src = (Path(__file__).resolve().parents[2] / "cases" / "tiny.toml").read_text()
    f = tmp_path / "tiny.toml"
    f.write_text(src.replace('modality = "video"\n', f'modality = "video"\nprecision = "{bad}"\n', 1))
    with pytest.raises(ConfigError, match="precision"):
        load_group_file(f)


def test_precision_is_a_case_property(tmp_path: Path) -> None:
    from gt_gen.cases import load_group_file

    src = (Path(__file__).resolve().parents[2] / "cases" / "tiny.toml").read_text()
    f = tmp_path / "tiny.toml"
    f.write_text(src.replace('modality = "video"\n', 'modality = "video"\nprecision = "fp32"\n', 1))
    cases = load_group_file(f)
    assert [c.precision for c in cases][:2] == ["fp32", "bf16"]


@pytest.mark.slow
def test_recorded_dtypes_follow_the_precision(official_fp32: Any, official_bf16: Any) -> None:
    for name in ("text.video", "s1.noise.video", "s1.step01.latent.audio"):
        assert official_fp32.tensors[name].dtype == torch.float32, name
        assert official_bf16.tensors[name].dtype == torch.bfloat16, name
    assert official_fp32.inputs["s1.noise.video"].dtype == torch.float32
    assert official_bf16.inputs["s1.noise.video"].dtype == torch.bfloat16
    assert official_bf16.meta["precision"] == "bf16"
