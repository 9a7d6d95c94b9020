"""``gt-gen convert``: every official tensor mapped (or the run stops naming the rest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gt_gen.convert import ltx2_configs as cfgs
from gt_gen.convert.ltx2_keys import build_table, check_coverage, lora_key, map_key
from gt_gen.errors import ConfigError


@pytest.fixture(scope="session")
def tiny_family() -> Any:
    from gt_gen.convert.official_paths import tiny

    return tiny().build_tiny(0)


def _header(path: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def test_every_tiny_tensor_has_exactly_one_diffusers_name(tiny_family: Any) -> None:
    from gt_gen.generate.tiny_config import vae_config

    names = _header(tiny_family.checkpoint)
    lay = cfgs.vae_layout(vae_config())
    table = build_table(names, encoder_keys=lay.encoder_keys, decoder_keys=lay.decoder_keys)
    assert not table.unmapped and not table.dropped
    assert len(table.rows) == len(names) == 392
    targets = [(c, k) for _, c, k in table.rows]
    assert len(set(targets)) == len(targets)  # injective: no two official tensors collide
    comps = {c for c, _ in targets}
    assert comps == {"transformer", "connectors", "vae", "audio_vae", "vocoder"}
    assert sum(c == "transformer" for c, _ in targets) == 190


@pytest.mark.parametrize("official, expected", [
    ("model.diffusion_model.patchify_proj.weight", ("transformer", "proj_in.weight")),
    ("model.diffusion_model.audio_adaln_single.linear.bias", ("transformer", "audio_time_embed.linear.bias")),
    ("model.diffusion_model.av_ca_a2v_gate_adaln_single.linear.weight",
     ("transformer", "av_cross_attn_video_a2v_gate.linear.weight")),
    ("model.diffusion_model.transformer_blocks.1.audio_attn2.q_norm.weight",
     ("transformer", "transformer_blocks.1.audio_attn2.norm_q.weight")),
    ("model.diffusion_model.transformer_blocks.0.scale_shift_table_a2v_ca_video",
     ("transformer", "transformer_blocks.0.video_a2v_cross_attn_scale_shift_table")),
    ("model.diffusion_model.audio_embeddings_connector.transformer_1d_blocks.0.attn1.k_norm.weight",
     ("connectors", "audio_connector.transformer_blocks.0.attn1.norm_k.weight")),
    ("text_embedding_projection.video_aggregate_embed.bias", ("connectors", "video_text_proj_in.bias")),
    ("vocoder.ups.3.weight", ("vocoder", "upsamplers.3.weight")),
    ("audio_vae.per_channel_statistics.std-of-means", ("audio_vae", "latents_std")),
])
def test_key_table_rows(official: str, expected: tuple[str, str]) -> None:
    assert map_key(official, encoder_keys={}, decoder_keys={}) == expected


def test_unknown_prefix_and_statistics() -> None:
    assert map_key("something.else", encoder_keys={}, decoder_keys={}) is None
    assert map_key("vae.per_channel_statistics.mean-of-stds", encoder_keys={}, decoder_keys={}) == "drop"
    assert lora_key("diffusion_model.transformer_blocks.0.attn1.q_norm.lora_A.weight") == \
        "transformer.transformer_blocks.0.attn1.norm_q.lora_A.weight"
    assert lora_key("diffusion_model.x.weight") is None


def test_coverage_names_what_is_wrong() -> None:
    official = {"a": (2, 2), "b": (3,), "c": (4,)}
    expected = {"A": (2, 2), "B": (5,), "D": (1,)}
    with pytest.raises(ConfigError) as e:
        check_coverage("vae", {"A": "a", "B": "b", "C": "c"}, official, expected)
    msg = str(e.value)
    assert "c -> C" in msg and "receive nothing (D)" in msg and "b (3,) -> B (5,)" in msg


def _official_vae_shapes(vae: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

    with torch.device("meta"):
        dec = VideoDecoderConfigurator.from_config({"vae": vae})
        enc = VideoEncoderConfigurator.from_config({"vae": vae})
    out = {}
    for k, v in dec.state_dict().items():
        out[("vae." if k.startswith("per_channel_statistics.") else "vae.decoder.") + k] = tuple(v.shape)
    out |= {"vae.encoder." + k: tuple(v.shape) for k, v in enc.state_dict().items()
            if not k.startswith("per_channel_statistics.")}
    return out


_res = st.builds(lambda n: ["res_x", {"num_layers": n}], st.integers(1, 2))
_down = st.builds(lambda n, m: [n, {"multiplier": m}],
                  st.sampled_from(["compress_space_res", "compress_time_res", "compress_all_res"]),
                  st.sampled_from([1, 2]))
_up = st.builds(lambda n, m, r: [n, {"multiplier": m, "residual": r}],
                st.sampled_from(["compress_all", "compress_space", "compress_time"]),
                st.sampled_from([1, 2]), st.booleans())


@st.composite
def _vae_configs(draw: Any) -> dict[str, Any]:
    from gt_gen.generate.tiny_config import vae_config

    downs = draw(st.lists(_down, min_size=1, max_size=4))
    enc: list[Any] = []
    for d in downs:
        if draw(st.booleans()):
            enc.append(draw(_res))
        enc.append(d)
    if draw(st.booleans()):
        enc.append(draw(_res))
    ups = draw(st.lists(_up, min_size=1, max_size=3))
    dec: list[Any] = [draw(_res)] if draw(st.booleans()) else []
    for u in ups:
        dec.append(u)
        if draw(st.booleans()):
            dec.append(draw(_res))
    return dict(vae_config(), encoder_blocks=enc, decoder_blocks=dec,
                timestep_conditioning=draw(st.booleans()),
                decoder_base_channels=draw(st.sampled_from([8, 16])))


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vae=_vae_configs())
def test_vae_reindexing_covers_any_block_list(vae: dict[str, Any]) -> None:
    """Resnets, residual/plain up-samplers, multipliers and timestep conditioning in any order:
    the official encoder/decoder (built on meta) map 1:1 onto diffusers' VAE built from the
    derived config. gt-gen's tiny VAE has no resnets at all, so this is where they are tested."""
    from diffusers import AutoencoderKLLTX2Video

    try:
        shapes = _official_vae_shapes(vae)
    except (ValueError, RuntimeError, AssertionError):
        return  # a block list the official builder itself rejects
    lay = cfgs.vae_layout(vae)
    table = build_table(shapes, encoder_keys=lay.encoder_keys, decoder_keys=lay.decoder_keys)
    assert not table.unmapped
    with torch.device("meta"):
        model = AutoencoderKLLTX2Video.from_config(lay.config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_coverage("vae", table.by_component()["vae"], shapes, expected, lay.unused_prefixes)


def test_unsupported_layouts_are_refused() -> None:
    with pytest.raises(ConfigError, match="encoder block"):
        cfgs.vae_layout({"encoder_blocks": [["compress_weird", {}]]})
    with pytest.raises(ConfigError, match="LTX-2.3 text layout"):
        cfgs.transformer_config({}, {})
    with pytest.raises(ConfigError, match="bandwidth extension"):
        cfgs.vocoder_config({"bwe": {}}, 64)


@pytest.mark.slow
def test_convert_tiny_family_end_to_end(tiny_family: Any, tmp_path: Path) -> None:
    from gt_gen.cli import main

    out = tmp_path / "conv"
    assert main(["convert", "--case", "tiny_two_stage_t2v", "--out", str(out)]) == 0
    table = json.loads((out / "key_table.json").read_text())
    comps = [r["component"] for r in table["mapped"]]
    assert comps.count("latent_upsampler") == 24 and comps.count("lora") > 0
    assert len(comps) - comps.count("lora") == 392 + 24 and table["dropped"] == []
    for sub in ("transformer", "connectors", "vae", "audio_vae", "vocoder", "text_encoder",
                "tokenizer", "scheduler", "latent_upsampler", "lora"):
        assert (out / sub).is_dir(), sub
    vae = json.loads((out / "vae" / "config.json").read_text())
    tr = json.loads((out / "transformer" / "config.json").read_text())
    conn = json.loads((out / "connectors" / "config.json").read_text())
    assert (vae["spatial_compression_ratio"], vae["temporal_compression_ratio"]) == (32, 8)
    assert tr["perturbed_attn"] is True and tr["use_prompt_embeddings"] is False
    assert conn["per_modality_projections"] is True and conn["proj_bias"] is True
    # a non-empty --out is refused before anything is written
    assert main(["convert", "--case", "tiny_two_stage_t2v", "--out", str(out)]) == 2


def test_a_stray_tensor_stops_the_conversion_and_writes_nothing(tiny_family: Any, tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from gt_gen.convert import convert_ltx2
    from gt_gen.convert.official_paths import tiny_patch

    sd = load_file(str(tiny_family.checkpoint))
    with safe_open(str(tiny_family.checkpoint), framework="pt") as f:
        meta = f.metadata()
    sd["model.diffusion_model.mystery_proj.weight"] = torch.zeros(2, 2)
    del sd["vocoder.conv_post.bias"]
    bad = tmp_path / "bad.safetensors"
    save_file(sd, str(bad), metadata=meta)
    out = tmp_path / "out"
    with tiny_patch().tiny_gemma_constant(), pytest.raises(ConfigError) as e:
        convert_ltx2(bad, tiny_family.gemma_root, out)
    assert "mystery_proj" in str(e.value)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.safetensors"]
    del sd["model.diffusion_model.mystery_proj.weight"]
    save_file(sd, str(bad), metadata=meta)
    with tiny_patch().tiny_gemma_constant(), pytest.raises(ConfigError, match="conv_out.bias"):
        convert_ltx2(bad, tiny_family.gemma_root, out)
    assert not out.exists()
