"""The tiny checkpoint builder: cached by content, full key coverage, the patch is confined."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from gt_gen.errors import GenerationError
from gt_gen.generate.backends.ltx import tiny
from gt_gen.generate.backends.ltx.tiny_patch import tiny_gemma_constant


def test_build_is_cached_and_complete(tmp_path: Path) -> None:
    a = tiny.build_tiny(0, root=tmp_path)
    stamp = a.checkpoint.stat().st_mtime_ns
    b = tiny.build_tiny(0, root=tmp_path)
    assert a == b and b.checkpoint.stat().st_mtime_ns == stamp
    with safe_open(str(a.checkpoint), framework="pt") as f:
        meta = f.metadata()
        keys = list(f.keys())
    assert json.loads(meta["config"])["transformer"]["num_layers"] == 2
    assert meta["model_version"].startswith("2.3")
    prefixes = {k.split(".")[0] for k in keys}
    assert prefixes == {"model", "text_embedding_projection", "vae", "audio_vae", "vocoder"}
    assert (a.gemma_root / "tokenizer.model").is_file() and (a.gemma_root / "tokenizer.json").is_file()
    listing = json.loads((a.root / "files.json").read_text())
    assert "tiny-ltx-2.3-dev.safetensors" in listing


def test_wrong_prefix_is_caught(tmp_path: Path) -> None:
    a = tiny.build_tiny(0, root=tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(a.root, broken)
    sd = load_file(str(broken / tiny.MAIN_CHECKPOINT))
    with safe_open(str(a.checkpoint), framework="pt") as f:
        meta = f.metadata()
    sd = {("vocoderX." + k[len("vocoder."):] if k.startswith("vocoder.") else k): v for k, v in sd.items()}
    save_file(sd, str(broken / tiny.MAIN_CHECKPOINT), metadata=meta)
    ck = tiny.TinyCheckpoints(root=broken, checkpoint=broken / tiny.MAIN_CHECKPOINT,
                              spatial_upsampler=broken / tiny.UPSAMPLER,
                              distilled_lora=broken / tiny.DISTILLED_LORA,
                              gemma_root=broken / tiny.GEMMA_DIR, key="x")
    with pytest.raises(GenerationError, match="vocoder"):
        tiny.verify_coverage(ck)


def test_gemma_patch_is_confined() -> None:
    from ltx_core.text_encoders.gemma import config as gcfg
    from ltx_core.text_encoders.gemma.encoders import encoder_configurator as enc

    before = gcfg.GEMMA3_CONFIG_FOR_LTX
    with tiny_gemma_constant():
        assert gcfg.GEMMA3_CONFIG_FOR_LTX.text_config.hidden_size == 64
        assert enc.GEMMA3_CONFIG_FOR_LTX is gcfg.GEMMA3_CONFIG_FOR_LTX
    assert gcfg.GEMMA3_CONFIG_FOR_LTX is before and before.text_config.hidden_size == 3840
