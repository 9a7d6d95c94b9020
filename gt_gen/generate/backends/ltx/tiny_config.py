"""Configurations of the tiny LTX-2 model family built offline for the ``tiny`` profile.

Why these numbers: the official loader fixes some structure (128 latent channels, 32x
spatial / 8x temporal VAE compression, audio VAE ``ch`` 128, 1024 tokens, 128 connector
registers, upsampler ``mid_channels`` a multiple of 32); everything else is shrunk so a
64x64, 9-frame generation takes about a second on two CPU cores. The config mimics the
LTX-2.3 layout (V2 feature extractor, caption projection before the connector, float64
RoPE) so the code paths of the official 2.3 cases are the ones exercised.
"""

from __future__ import annotations

from typing import Any

#: Bump when anything below changes: it is part of the tiny checkpoints' cache key.
TINY_BUILDER_VERSION = "7"
#: Transformer blocks; STG in the tiny cases points at a block that exists (1), since the
#: default STG block (28/29) does not exist in a 2-layer model and would silently do nothing.
TINY_NUM_LAYERS = 2


def transformer_config() -> dict[str, Any]:
    """``config['transformer']`` of the tiny audio-video transformer."""
    return {
        "dropout": 0.0, "attention_bias": True, "num_vector_embeds": None,
        "activation_fn": "gelu-approximate", "num_embeds_ada_norm": 1000,
        "use_linear_projection": False, "only_cross_attention": False,
        "cross_attention_norm": True, "double_self_attention": False, "upcast_attention": False,
        "standardization_norm": "rms_norm", "norm_elementwise_affine": False, "qk_norm": "rms_norm",
        "positional_embedding_type": "rope", "use_audio_video_cross_attention": True,
        "share_ff": False, "av_cross_ada_norm": True, "use_middle_indices_grid": True,
        "num_attention_heads": 2, "attention_head_dim": 32, "in_channels": 128,
        "out_channels": 128, "num_layers": TINY_NUM_LAYERS, "cross_attention_dim": 64,
        "audio_num_attention_heads": 2, "audio_attention_head_dim": 16,
        "audio_in_channels": 128, "audio_out_channels": 128, "audio_cross_attention_dim": 32,
        "positional_embedding_theta": 10000.0, "positional_embedding_max_pos": [20, 2048, 2048],
        "audio_positional_embedding_max_pos": [20], "timestep_scale_multiplier": 1000,
        "av_ca_timestep_scale_multiplier": 1000, "rope_type": "split",
        "frequencies_precision": "float64",
        "connector_num_attention_heads": 2, "connector_attention_head_dim": 32,
        "connector_num_layers": 1, "audio_connector_num_attention_heads": 2,
        "audio_connector_attention_head_dim": 16, "audio_connector_num_layers": 1,
        "connector_positional_embedding_max_pos": [4096],
        "caption_proj_before_connector": True, "caption_projection_first_linear": False,
        "caption_proj_input_norm": False, "caption_projection_second_linear": False,
    }


def vae_config() -> dict[str, Any]:
    """``config['vae']``: patch 4 then x2 space, x2 time, 2 x (x2 all) = 32x spatial, 8x temporal."""
    return {
        "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128, "patch_size": 4,
        "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
        "timestep_conditioning": False, "spatial_padding_mode": "zeros",
        "decoder_base_channels": 16,
        "encoder_blocks": [["compress_space_res", {"multiplier": 1}],
                           ["compress_time_res", {"multiplier": 1}],
                           ["compress_all_res", {"multiplier": 1}],
                           ["compress_all_res", {"multiplier": 1}]],
        "decoder_blocks": [["compress_all", {"multiplier": 2}],
                           ["compress_all", {"multiplier": 2}],
                           ["compress_all", {"multiplier": 2}]],
    }


def audio_vae_config() -> dict[str, Any]:
    """``config['audio_vae']``: ``ch`` stays 128 (structural); one res block per level."""
    ddconfig = {"ch": 128, "out_ch": 2, "ch_mult": [1, 1, 1], "num_res_blocks": 1,
                "attn_resolutions": [], "resolution": 256, "z_channels": 8, "double_z": True,
                "in_channels": 2, "mel_bins": 64, "norm_type": "pixel",
                "causality_axis": "height", "mid_block_add_attention": False}
    return {"model": {"params": {"ddconfig": ddconfig, "sampling_rate": 16000}},
            "preprocessing": {"stft": {"hop_length": 160, "filter_length": 1024, "causal": True},
                              "mel": {"n_mel_channels": 64}}}


def vocoder_config() -> dict[str, Any]:
    """``config['vocoder']``: a narrow HiFi-GAN style vocoder with the standard 160x upsampling."""
    return {"resblock_kernel_sizes": [3], "upsample_rates": [5, 4, 2, 2, 2],
            "upsample_kernel_sizes": [10, 8, 4, 4, 4], "resblock_dilation_sizes": [[1, 3, 5]],
            "upsample_initial_channel": 64, "resblock": "1", "stereo": True,
            "output_sampling_rate": 16000, "activation": "snake", "use_tanh_at_final": True,
            "use_bias_at_final": True}


def main_config() -> dict[str, Any]:
    """The JSON stored under ``config`` in the main checkpoint's safetensors metadata."""
    return {"transformer": transformer_config(), "vae": vae_config(),
            "audio_vae": audio_vae_config(), "vocoder": vocoder_config()}


def upsampler_config() -> dict[str, Any]:
    """The spatial x2 latent upsampler (its own file; config at the top of its metadata)."""
    return {"in_channels": 128, "mid_channels": 32, "num_blocks_per_stage": 1, "dims": 3,
            "spatial_upsample": True, "temporal_upsample": False, "spatial_scale": 2.0,
            "rational_resampler": False}


#: Tokenizer vocabulary (SentencePiece, trained locally); its user-defined symbols take ids 4-8:
#: <start_of_turn>, <end_of_turn>, <start_of_image> (6), <end_of_image> (7), <image_soft_token> (8).
TINY_VOCAB = 384


def gemma_config_kwargs() -> dict[str, Any]:
    """Overrides of ``ltx_core``'s hard-coded Gemma-3-12B config for the tiny text encoder."""
    return {
        "text": {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2,
                 "num_key_value_heads": 1, "head_dim": 32, "query_pre_attn_scalar": 32,
                 "num_hidden_layers": 2, "vocab_size": TINY_VOCAB + 8, "sliding_window": 512,
                 "sliding_window_pattern": 2, "max_position_embeddings": 2048},
        "vision": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                   "num_hidden_layers": 1, "image_size": 56, "patch_size": 14},
        "top": {"boi_token_index": 6, "eoi_token_index": 7,
                "image_token_index": 8, "mm_tokens_per_image": 4,
                "eos_token_id": [1]},
    }
