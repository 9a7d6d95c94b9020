"""Official LTX-2 configs (safetensors metadata) -> diffusers component configs.

Why each trap is set explicitly (each was found the hard way, see design §5):

* ``use_prompt_embeddings=False`` + connectors ``per_modality_projections=True, proj_bias=True``:
  LTX-2.3 projects text features per modality *before* the connectors (the official "V2" feature
  extractor); diffusers' defaults are the 2.0 layout and would build a different model.
* ``perturbed_attn=True``: without it diffusers builds no perturbed-attention path and STG is
  silently ignored.
* VAE ``spatial_compression_ratio=32, temporal_compression_ratio=8``: diffusers derives them from
  the block list, which for gt-gen's tiny VAE (no resnets) gives the wrong numbers.

The official defaults used when a key is absent are the official configurators' own (ltx-core
1.0.0: ``LTXModelConfigurator``, ``VideoDecoderConfigurator``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gt_gen.errors import ConfigError

#: The official "V2" feature extractor (LTX-2.3): the layout this converter supports.
V2_TEXT_LAYOUT = {"caption_proj_before_connector": True, "caption_projection_first_linear": False,
                  "caption_proj_input_norm": False, "caption_projection_second_linear": False}


@dataclass(frozen=True)
class VaeLayout:
    """How the official VAE block lists map onto diffusers' regular down/up blocks.

    ``encoder_keys`` / ``decoder_keys``: official block index -> diffusers module prefix
    (``down_blocks.1.downsamplers.0``, ``mid_block``, ...), used by the key table.
    """

    config: dict[str, Any]
    encoder_keys: dict[int, str]
    decoder_keys: dict[int, str]
    #: diffusers tensors no official tensor feeds *and* no computation reads: the timestep
    #: embedder diffusers builds for a decoder block without resnets (it only feeds resnets).
    unused_prefixes: tuple[str, ...] = ()


def _bad(what: str) -> ConfigError:
    return ConfigError(f"gt-gen convert: {what}")


def transformer_config(cfg: dict[str, Any], audio_vae: dict[str, Any]) -> dict[str, Any]:
    """``LTX2VideoTransformer3DModel`` config from ``config['transformer']``."""
    t = cfg
    if any(t.get(k) != v for k, v in V2_TEXT_LAYOUT.items()):
        raise _bad("only the LTX-2.3 text layout (caption_proj_before_connector, V2 feature "
                   "extractor) is supported; this checkpoint has "
                   f"{ {k: t.get(k) for k in V2_TEXT_LAYOUT} }")
    max_pos = t.get("positional_embedding_max_pos", [20, 2048, 2048])
    audio_max_pos = t.get("audio_positional_embedding_max_pos", [20])
    prep = audio_vae.get("preprocessing", {})
    params = audio_vae.get("model", {}).get("params", {})
    gated = bool(t.get("apply_gated_attention", False))
    cross_mod = bool(t.get("cross_attention_adaln", False))
    return {
        "in_channels": t.get("in_channels", 128), "out_channels": t.get("out_channels", 128),
        "patch_size": 1, "patch_size_t": 1,
        "num_attention_heads": t.get("num_attention_heads", 32),
        "attention_head_dim": t.get("attention_head_dim", 128),
        "cross_attention_dim": t.get("cross_attention_dim", 4096),
        "vae_scale_factors": [8, 32, 32],
        "pos_embed_max_pos": max_pos[0], "base_height": max_pos[1], "base_width": max_pos[2],
        "gated_attn": gated, "cross_attn_mod": cross_mod,
        "audio_in_channels": t.get("audio_in_channels", 128),
        "audio_out_channels": t.get("audio_out_channels", 128),
        "audio_patch_size": 1, "audio_patch_size_t": 1,
        "audio_num_attention_heads": t.get("audio_num_attention_heads", 32),
        "audio_attention_head_dim": t.get("audio_attention_head_dim", 64),
        "audio_cross_attention_dim": t.get("audio_cross_attention_dim", 2048),
        "audio_scale_factor": 4, "audio_pos_embed_max_pos": audio_max_pos[0],
        "audio_sampling_rate": params.get("sampling_rate", 16000),
        "audio_hop_length": prep.get("stft", {}).get("hop_length", 160),
        "audio_gated_attn": gated, "audio_cross_attn_mod": cross_mod,
        "num_layers": t.get("num_layers", 48),
        "activation_fn": t.get("activation_fn", "gelu-approximate"),
        "qk_norm": "rms_norm_across_heads",
        "norm_elementwise_affine": bool(t.get("norm_elementwise_affine", False)),
        "norm_eps": t.get("norm_eps", 1e-6),
        "caption_channels": t.get("cross_attention_dim", 4096),
        "attention_bias": bool(t.get("attention_bias", True)), "attention_out_bias": True,
        "rope_theta": t.get("positional_embedding_theta", 10000.0),
        "rope_double_precision": t.get("frequencies_precision", False) == "float64",
        "causal_offset": 1,
        "timestep_scale_multiplier": t.get("timestep_scale_multiplier", 1000),
        "cross_attn_timestep_scale_multiplier": t.get("av_ca_timestep_scale_multiplier", 1),
        "rope_type": t.get("rope_type", "interleaved"),
        "use_prompt_embeddings": False,  # trap: 2.3 projects text in the connectors
        "perturbed_attn": True,  # trap: without it STG is silently ignored
    }


def connectors_config(cfg: dict[str, Any], gemma_hidden: int, gemma_layers: int) -> dict[str, Any]:
    """``LTX2TextConnectors`` config; ``gemma_layers`` counts hidden layers (+1 is added here)."""
    t = cfg
    audio_heads = t.get("audio_connector_num_attention_heads", t.get("connector_num_attention_heads", 30))
    audio_dim = t.get("audio_connector_attention_head_dim", t.get("connector_attention_head_dim", 128))
    gated = bool(t.get("connector_apply_gated_attention", False))
    return {
        "caption_channels": gemma_hidden, "text_proj_in_factor": gemma_layers + 1,
        "video_connector_num_attention_heads": t.get("connector_num_attention_heads", 30),
        "video_connector_attention_head_dim": t.get("connector_attention_head_dim", 128),
        "video_connector_num_layers": t.get("connector_num_layers", 2),
        "video_connector_num_learnable_registers": 128, "video_gated_attn": gated,
        "audio_connector_num_attention_heads": audio_heads,
        "audio_connector_attention_head_dim": audio_dim,
        "audio_connector_num_layers": t.get("audio_connector_num_layers", t.get("connector_num_layers", 2)),
        "audio_connector_num_learnable_registers": 128, "audio_gated_attn": gated,
        "connector_rope_base_seq_len": t.get("connector_positional_embedding_max_pos", [1])[0],
        "rope_theta": t.get("positional_embedding_theta", 10000.0),
        "rope_double_precision": t.get("frequencies_precision", False) == "float64",
        "causal_temporal_positioning": False,
        "rope_type": t.get("rope_type", "interleaved"),
        "per_modality_projections": True,  # trap: the 2.3 per-modality feature extractor
        "video_hidden_dim": t.get("connector_num_attention_heads", 30) * t.get("connector_attention_head_dim", 128),
        "audio_hidden_dim": audio_heads * audio_dim,
        "proj_bias": True,  # trap: the official aggregate embeds carry a bias
    }


_DOWN = {"compress_space_res": "spatial", "compress_time_res": "temporal",
         "compress_all_res": "spatiotemporal"}
_UP = {"compress_space": "spatial", "compress_time": "temporal", "compress_all": "spatiotemporal"}


def _block(entry: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[1], dict):
        return str(entry[0]), dict(entry[1])
    raise _bad(f"unreadable VAE block entry {entry!r}")


def vae_layout(vae: dict[str, Any]) -> VaeLayout:
    """``AutoencoderKLLTX2Video`` config and the block re-indexing, from ``config['vae']``.

    Official encoders are a flat list (``res_x`` runs, ``compress_*_res`` downsamplers); diffusers
    groups "resnets then one downsampler" per down block and the trailing resnets into a mid
    block. The decoder is the mirror: leading resnets are the mid block, then "upsampler then
    resnets" per up block. Channels follow the official multipliers.
    """
    if vae.get("dims", 3) != 3 or vae.get("norm_layer", "pixel_norm") != "pixel_norm":
        raise _bad(f"unsupported VAE (dims {vae.get('dims')}, norm {vae.get('norm_layer')})")
    if vae.get("latent_log_var", "uniform") != "uniform":
        raise _bad(f"unsupported VAE latent_log_var {vae.get('latent_log_var')!r}")
    latent = vae.get("latent_channels", 128)
    # encoder
    enc_keys: dict[int, str] = {}
    layers: list[int] = [0]
    down_types: list[str] = []
    channels: list[int] = []
    ch = latent  # diffusers' encoder conv_in is latent-wide, as the official one (base 128)
    for i, entry in enumerate(vae.get("encoder_blocks", [])):
        name, kw = _block(entry)
        stage = len(down_types)
        if name == "res_x":
            layers[-1] += int(kw.get("num_layers", 1))
            enc_keys[i] = f"down_blocks.{stage}"
        elif name in _DOWN:
            enc_keys[i] = f"down_blocks.{stage}.downsamplers.0"
            down_types.append(_DOWN[name])
            ch = ch * int(kw.get("multiplier", 2))
            channels.append(ch)
            layers.append(0)
        else:
            raise _bad(f"unsupported VAE encoder block {name!r}")
    n_down = len(down_types)
    enc_keys = {i: ("mid_block" if k == f"down_blocks.{n_down}" else k) for i, k in enc_keys.items()}
    # decoder: the official module order is the *reversed* ``decoder_blocks`` list (ltx-core
    # builds ``up_blocks`` from ``reversed(decoder_blocks)``); diffusers' config lists are given
    # reversed again, so they follow the official config order.
    dec_keys: dict[int, str] = {}
    dec_layers: list[int] = [0]
    up_types: list[str] = []
    residual: list[bool] = []
    factors: list[int] = []
    inject: list[bool] = [False]
    for i, entry in enumerate(reversed(vae.get("decoder_blocks", []))):
        name, kw = _block(entry)
        stage = len(up_types)
        if name == "res_x":
            dec_layers[-1] += int(kw.get("num_layers", 1))
            inject[-1] = inject[-1] or bool(kw.get("inject_noise", False))
            dec_keys[i] = "mid_block" if stage == 0 else f"up_blocks.{stage - 1}"
        elif name in _UP:
            dec_keys[i] = f"up_blocks.{stage}.upsamplers.0"
            up_types.append(_UP[name])
            residual.append(bool(kw.get("residual", False)))
            factors.append(int(kw.get("multiplier", 1)))
            dec_layers.append(0)
            inject.append(False)
        else:
            raise _bad(f"unsupported VAE decoder block {name!r}")
    # ltx-core: conv_in gives base * 8 channels whatever the multipliers ("3 upsamplers x2")
    dec_ch = int(vae.get("decoder_base_channels", 128)) * 8
    dec_channels_rev: list[int] = []
    for f in factors:  # module order: block i enters with dec_ch and leaves with dec_ch // f
        dec_channels_rev.append(dec_ch)
        dec_ch //= f
    cfg = {
        "in_channels": vae.get("in_channels", 3), "out_channels": vae.get("out_channels", 3),
        "latent_channels": latent, "block_out_channels": channels,
        "down_block_types": ["LTX2VideoDownBlock3D"] * n_down,
        "decoder_block_out_channels": list(reversed(dec_channels_rev)),
        "layers_per_block": layers, "decoder_layers_per_block": list(reversed(dec_layers)),
        "spatio_temporal_scaling": [True] * n_down,
        "decoder_spatio_temporal_scaling": [True] * len(up_types),
        "decoder_inject_noise": list(reversed(inject)), "downsample_type": down_types,
        "upsample_type": up_types,  # the one decoder list diffusers does not reverse
        "upsample_residual": list(reversed(residual)), "upsample_factor": list(reversed(factors)),
        "timestep_conditioning": bool(vae.get("timestep_conditioning", True)),
        "patch_size": vae.get("patch_size", 4), "patch_size_t": 1, "resnet_norm_eps": 1e-6,
        "scaling_factor": 1.0, "encoder_causal": True,
        "decoder_causal": bool(vae.get("causal_decoder", False)),
        "encoder_spatial_padding_mode": vae.get("spatial_padding_mode", "zeros"),
        "decoder_spatial_padding_mode": vae.get("spatial_padding_mode", "reflect"),
        "spatial_compression_ratio": 32,  # trap: not derivable from a resnet-free block list
        "temporal_compression_ratio": 8,
    }
    unused: list[str] = []
    if cfg["timestep_conditioning"]:
        names = ["decoder.mid_block."] + [f"decoder.up_blocks.{i}." for i in range(len(up_types))]
        unused = [n + "time_embedder." for n, layers in zip(names, dec_layers) if layers == 0]
    return VaeLayout(config=cfg, encoder_keys=enc_keys, decoder_keys=dec_keys,
                     unused_prefixes=tuple(unused))


def audio_vae_config(audio: dict[str, Any]) -> dict[str, Any]:
    """``AutoencoderKLLTX2Audio`` config from ``config['audio_vae']``."""
    params = audio.get("model", {}).get("params", {})
    dd = params.get("ddconfig", {})
    stft = audio.get("preprocessing", {}).get("stft", {})
    return {
        "base_channels": dd.get("ch", 128), "output_channels": dd.get("out_ch", 2),
        "ch_mult": list(dd.get("ch_mult", [1, 2, 4])), "num_res_blocks": dd.get("num_res_blocks", 2),
        "attn_resolutions": list(dd.get("attn_resolutions", [])) or None,
        "in_channels": dd.get("in_channels", 2), "resolution": dd.get("resolution", 256),
        "latent_channels": dd.get("z_channels", 8), "norm_type": dd.get("norm_type", "pixel"),
        "causality_axis": dd.get("causality_axis", "height"), "dropout": 0.0,
        "mid_block_add_attention": bool(dd.get("mid_block_add_attention", False)),
        "sample_rate": params.get("sampling_rate", 16000),
        "mel_hop_length": stft.get("hop_length", 160), "is_causal": bool(stft.get("causal", True)),
        "mel_bins": dd.get("mel_bins", 64), "double_z": bool(dd.get("double_z", True)),
    }


def vocoder_config(voc: dict[str, Any], mel_bins: int) -> dict[str, Any]:
    """``LTX2Vocoder`` config from ``config['vocoder']`` (HiFi-GAN, ``resblock "1"``)."""
    if "bwe" in voc:
        raise _bad("the LTX-2.3 vocoder with bandwidth extension (LTX2VocoderWithBWE) is not "
                   "supported by gt-gen convert yet")
    if voc.get("resblock", "1") != "1":
        raise _bad(f"unsupported vocoder resblock {voc.get('resblock')!r}")
    stereo = bool(voc.get("stereo", True))
    return {
        "in_channels": mel_bins * (2 if stereo else 1),
        "hidden_channels": voc.get("upsample_initial_channel", 1024),
        "out_channels": 2 if stereo else 1,
        "upsample_kernel_sizes": list(voc.get("upsample_kernel_sizes", [16, 15, 8, 4, 4])),
        "upsample_factors": list(voc.get("upsample_rates", [6, 5, 2, 2, 2])),
        "resnet_kernel_sizes": list(voc.get("resblock_kernel_sizes", [3, 7, 11])),
        "resnet_dilations": [list(d) for d in voc.get("resblock_dilation_sizes", [[1, 3, 5]] * 3)],
        "act_fn": "leaky_relu", "leaky_relu_negative_slope": 0.1,
        "final_act_fn": "tanh" if voc.get("use_tanh_at_final", True) else "clamp",
        "final_bias": bool(voc.get("use_bias_at_final", True)),
        "output_sampling_rate": voc.get("output_sampling_rate", 24000),
    }


def upsampler_config(up: dict[str, Any]) -> dict[str, Any]:
    """``LTX2LatentUpsamplerModel`` config from the upsampler file's metadata."""
    return {
        "in_channels": up.get("in_channels", 128), "mid_channels": up.get("mid_channels", 512),
        "num_blocks_per_stage": up.get("num_blocks_per_stage", 4), "dims": up.get("dims", 3),
        "spatial_upsample": bool(up.get("spatial_upsample", True)),
        "temporal_upsample": bool(up.get("temporal_upsample", False)),
        "rational_spatial_scale": float(up.get("spatial_scale", 2.0)),
        "use_rational_resampler": bool(up.get("rational_resampler", False)),
    }


def scheduler_config() -> dict[str, Any]:
    """``FlowMatchEulerDiscreteScheduler`` that takes the official sigmas as given.

    No shift and no dynamic shifting: gt-gen always passes the official LTX2Scheduler sigmas
    (``sigmas=official[:-1]``; the scheduler appends the terminal 0)."""
    return {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000,
            "shift": 1.0, "use_dynamic_shifting": False, "base_shift": 0.95, "max_shift": 2.05,
            "base_image_seq_len": 1024, "max_image_seq_len": 4096, "invert_sigmas": False,
            "shift_terminal": None, "use_karras_sigmas": False, "use_exponential_sigmas": False,
            "use_beta_sigmas": False, "time_shift_type": "exponential", "stochastic_sampling": False}
