"""The random-full profile: real configs, weights made through the official builders, no meta left.

The full-size run needs a GPU (scripts/bench_generate.py --profile random-full); here the same
construction path runs at ``scale`` 1/32 on the CPU: skeleton files, the random loaders installed
on an official ``ModelLedger``, every model built with a LoRA fused, nothing left on ``meta``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from gt_gen.cases import load_registry
from gt_gen.errors import ConfigError, GenerationError, UsageError
from gt_gen.generate.backends.ltx import random_full as rf

SCALE = 1 / 32
MODELS = ("transformer", "video_decoder", "video_encoder", "text_encoder",
          "gemma_embeddings_processor", "audio_encoder", "audio_decoder", "vocoder",
          "spatial_upsampler")


def _case(cid: str):  # type: ignore[no-untyped-def]
    return next(c for c in load_registry().select(group="ltx") if c.id == cid)


@pytest.fixture(scope="session")
def skeleton(tmp_path_factory: pytest.TempPathFactory) -> rf.Skeleton:
    return rf.build_skeleton(rf.FAMILIES["ltx-2.3-22b"], scale=SCALE,
                             root=tmp_path_factory.mktemp("random-full"))


def _ledger(sk: rf.Skeleton, memo: rf.RandomFullMemo):  # type: ignore[no-untyped-def]
    from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps
    from ltx_pipelines.utils import ModelLedger

    lora = LoraPathStrengthAndSDOps(str(sk.distilled_lora), 1.0, LTXV_LORA_COMFY_RENAMING_MAP)
    return memo.attach(ModelLedger(dtype=torch.bfloat16, device=torch.device("cpu"),
                                   checkpoint_path=str(sk.checkpoint),
                                   gemma_root_path=str(sk.gemma_root),
                                   spatial_upsampler_path=str(sk.spatial_upsampler),
                                   loras=(lora,)))


def test_skeleton_holds_configs_and_no_weights(skeleton: rf.Skeleton) -> None:
    with safe_open(str(skeleton.checkpoint), framework="pt") as f:
        assert list(f.keys()) == []
        meta = f.metadata()
    assert meta["model_version"].startswith("2.3")  # detect_params picks the 2.3 defaults
    assert rf.skeleton_marker(skeleton.checkpoint)["kind"] == "main"  # type: ignore[index]
    assert rf.skeleton_marker(skeleton.distilled_lora)["rank"] == 12  # type: ignore[index]
    assert (skeleton.gemma_root / "tokenizer.json").is_file() and skeleton.image.is_file()
    again = rf.build_skeleton(rf.FAMILIES["ltx-2.3-22b"], scale=SCALE, root=skeleton.root.parent)
    assert again == skeleton  # cached by content


@pytest.mark.slow
def test_every_model_is_built_with_nothing_on_meta(skeleton: rf.Skeleton) -> None:
    memo = rf.RandomFullMemo("models", scale=SCALE)
    ledger = _ledger(skeleton, memo)
    built = {name: getattr(ledger, name)() for name in MODELS}
    for name, model in built.items():
        assert rf.unmaterialised(model) == [], name
        assert all(p.device.type == "cpu" for p in model.parameters()), name
    assert set(memo.stats.by_model) >= {"LTXModel", "GemmaTextEncoder", "EmbeddingsProcessor",
                                        "VideoDecoder", "VideoEncoder", "Vocoder",
                                        "LatentUpsampler", "distilled_lora"}
    gemma = built["text_encoder"].model
    assert gemma.lm_head.weight.data_ptr() == \
        gemma.model.language_model.embed_tokens.weight.data_ptr()  # tied, as the key ops make it
    w = built["transformer"].velocity_model.transformer_blocks[0].attn1.to_q.weight.float()
    assert not torch.isnan(w).any()
    # Same seed: the same weights from a second memo (the LoRA fusion included).
    w2 = _ledger(skeleton, rf.RandomFullMemo("models", scale=SCALE)).transformer()
    assert torch.equal(w2.velocity_model.transformer_blocks[0].attn1.to_q.weight.float(), w)


def test_random_init_scales_with_fan_in() -> None:
    gen = torch.Generator().manual_seed(0)
    for fan_in in (64, 4096):
        t = torch.empty(512, fan_in)
        rf.random_(t, "blocks.0.ff.weight", gen)
        assert abs(t.std().item() * math.sqrt(fan_in) - 1.0) < 0.05
    bias, scale, ints = torch.empty(4096), torch.empty(4096), torch.empty(3, dtype=torch.long)
    rf.random_(bias, "x.bias", gen)
    rf.random_(scale, "norm.weight", gen)
    rf.random_(ints, "position_ids", gen)
    assert bias.abs().max() < 0.2 and abs(scale.mean().item() - 1.0) < 0.05
    assert ints.tolist() == [0, 0, 0]


def test_a_file_that_is_not_a_skeleton_is_refused(tmp_path: Path, skeleton: rf.Skeleton) -> None:
    from ltx_pipelines.utils import ModelLedger

    real = tmp_path / "real.safetensors"
    save_file({"w": torch.zeros(2)}, str(real), metadata={"config": "{}"})
    ledger = ModelLedger(dtype=torch.bfloat16, device=torch.device("cpu"),
                         checkpoint_path=str(real))
    with pytest.raises(GenerationError, match="not a random-full skeleton"):
        rf.RandomFullMemo("models", scale=SCALE).attach(ledger)
    loader = rf.RandomStateDictLoader(object, gen_device=torch.device("cpu"), stats=rf.BuildStats())
    with pytest.raises(GenerationError, match="refusing to mix"):
        loader.load([str(real)])


def test_released_shapes() -> None:
    """The 2.3 configs give the published sizes (22B with connectors; VAE 319M/407M)."""
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

    main = rf.FAMILIES["ltx-2.3-22b"].main
    with torch.device("meta"):
        enc = VideoEncoderConfigurator.from_config(main)
        dec = VideoDecoderConfigurator.from_config(main)
    assert round(sum(p.numel() for p in enc.parameters()) / 1e6, 1) == 318.9
    assert round(sum(p.numel() for p in dec.parameters()) / 1e6, 1) == 407.2
    t = main["transformer"]
    assert (t["num_layers"], t["num_attention_heads"], t["attention_head_dim"],
            t["cross_attention_dim"], t["audio_num_attention_heads"],
            t["audio_attention_head_dim"]) == (48, 32, 128, 4096, 32, 64)
    assert t["apply_gated_attention"] and t["cross_attention_adaln"]
    assert t["caption_proj_before_connector"]
    assert "caption_proj_before_connector" not in rf.FAMILIES["ltx-2-19b"].main["transformer"]


def test_family_and_profile_rules() -> None:
    assert rf.family_of(_case("ltx_2.3_one_stage_ti2v")).name == "ltx-2.3-22b"
    assert rf.family_of(_case("ltx_2_two_stage_t2v")).name == "ltx-2-19b"
    other = _case("ltx_2.3_one_stage_ti2v")
    other = dataclasses.replace(other, model=dataclasses.replace(other.model, checkpoint="x.safetensors"))
    with pytest.raises(ConfigError, match="random-full"):
        rf.family_of(other)


def test_runner_refuses_random_full_for_tiny_and_other_backends(tmp_path: Path) -> None:
    from gt_gen.generate.runner import GroupRun

    tiny = load_registry().select(group="tiny")
    run = GroupRun(tiny, tmp_path, profile="random-full")
    with pytest.raises(UsageError, match="tiny model"):
        run._profile_of(tiny[0])
    full = [c for g in ("ltx",) for c in load_registry().select(group=g)]
    fake = dataclasses.replace(full[0], backend="diffusers")
    with pytest.raises(UsageError, match="ltx_official"):
        run._profile_of(fake)
    assert run._profile_of(full[1]) == "random-full"


def test_generate_command_accepts_the_profile() -> None:
    import argparse

    from gt_gen.commands import generate_cmd

    ap = argparse.ArgumentParser()
    generate_cmd.register(ap.add_subparsers())
    args = ap.parse_args(["generate", "--group", "ltx", "--out", "x", "--profile", "random-full"])
    assert args.profile == "random-full"


def test_conditioning_image_is_the_skeletons_stand_in(skeleton: rf.Skeleton) -> None:
    case = _case("ltx_2.3_one_stage_ti2v")
    model = rf.resolve_random_full(case, scale=SCALE, root=skeleton.root.parent)
    assert model.provenance["profile"] == "random-full"
    assert model.provenance["conditioning_image"] == "synthetic stand-in"
    assert model.checkpoint.name == "ltx-2.3-22b-dev.safetensors" and model.checkpoint.is_file()
    runner = rf.RandomFullRunner(torch.device("cpu"), scale=SCALE)
    [img] = runner.conditioning_images(case, model)
    assert Path(img.path) == model.checkpoint.parent / rf.IMAGE and Path(img.path).is_file()
    assert (img.frame_idx, img.strength, img.crf) == (0, 1.0, 33)
    t2v = _case("ltx_2.3_two_stage_t2v_2gpus")
    assert runner.conditioning_images(t2v, rf.resolve_random_full(
        t2v, scale=SCALE, root=skeleton.root.parent)) == []


def test_ltx_backend_routes_random_full_to_its_runner(skeleton: rf.Skeleton,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from gt_gen.generate.backends.ltx.backend import LtxBackend

    monkeypatch.setenv("GT_GEN_CACHE", str(skeleton.root.parent.parent / "cache"))
    backend = LtxBackend(torch.device("cpu"), reuse="none")
    case = _case("ltx_2.3_two_stage_t2v_2gpus")
    resolved = backend.resolve(case, "random-full", weights_dir=None, allow_unpinned=False)
    assert resolved.provenance["weights"] == "random" and resolved.distilled_lora is not None
    runner = backend._runner_for(resolved)
    assert isinstance(runner, rf.RandomFullRunner) and runner.memo.reuse == "none"
    assert backend._runner_for(resolved) is runner
    assert backend._runner_for(dataclasses.replace(resolved, provenance={})) is backend.runner
    backend.release()
