"""Tiny models of each diffusers family, built from configs: the real classes at toy widths.

Every model is the class the real repository's ``model_index.json`` names (transformer, VAE,
text encoders), so the tiny profile runs the same pipeline code with the same module types;
only widths and depths shrink. What must not shrink is kept: latent channels and the VAE's 8x
spatial / 4x temporal compression (the pipelines hard-code them), the text-encoder depth that
a pipeline reads hidden states from (FLUX.2 dev: layers 10/20/30; klein: 9/18/27), the
schedulers' configs as the real repositories ship them. Each builder returns the pipeline
object in memory; :mod:`.` saves it with ``save_pretrained`` so that tiny runs load it through
``from_pretrained`` exactly as the full profile loads a hub snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gt_gen.generate.backends.diffusers.tiny import tokenizers as toks
from gt_gen.generate.tiny_init import init_module_, structure_decoder_

#: Scheduler configs of the real repositories (their ``scheduler/scheduler_config.json``).
FLUX_SCHEDULER = {"base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096,
                  "max_shift": 1.15, "num_train_timesteps": 1000, "shift": 3.0,
                  "use_dynamic_shifting": True}
QWEN_SCHEDULER = {"base_image_seq_len": 256, "base_shift": 0.5, "invert_sigmas": False,
                  "max_image_seq_len": 8192, "max_shift": 0.9, "num_train_timesteps": 1000,
                  "shift": 1.0, "shift_terminal": 0.02, "stochastic_sampling": False,
                  "time_shift_type": "exponential", "use_dynamic_shifting": True}
ZIMAGE_SCHEDULER = {"num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": False}
WAN_SCHEDULER = {"beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001,
                 "final_sigmas_type": "zero", "flow_shift": 3.0, "lower_order_final": True,
                 "num_train_timesteps": 1000, "predict_x0": True,
                 "prediction_type": "flow_prediction", "solver_order": 2, "solver_type": "bh2",
                 "timestep_spacing": "linspace", "use_flow_sigmas": True}


#: Scale of the text stream's keys and values in FLUX.2's joint attention. Why: FLUX.2 has no
#: pooled text embedding; text reaches the image only through attention, which at random init
#: averages the few prompt tokens away, so another prompt gave the same picture (SSIM 0.999)
#: and no gate could be both stricter than the prompt control and looser than the noise floor.
FLUX2_TEXT_GAIN = 8.0


def _seeded(seed: int, build: Callable[[], Any]) -> Any:
    """Build a module, then overwrite every parameter from a generator seeded with ``seed``."""
    torch.manual_seed(seed)
    module = build()
    init_module_(module, torch.Generator().manual_seed(seed))
    return module.eval()


def _transformer(seed: int, build: Callable[[], Any], *, text_gain: float = 1.0) -> Any:
    """A seeded transformer; ``text_gain`` scales the text stream's attention keys and values."""
    module = _seeded(seed, build)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith(("add_k_proj.weight", "add_v_proj.weight")):
                p.mul_(text_gain)
    return module


def _kl_vae(seed: int, latent_channels: int, **extra: Any) -> Any:
    """A 4-level AutoencoderKL (8x spatial) with a structured decoder."""
    from diffusers import AutoencoderKL

    vae = _seeded(seed, lambda: AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(16, 16, 16, 16),
        layers_per_block=1, latent_channels=latent_channels, norm_num_groups=16, sample_size=64,
        use_quant_conv=False, use_post_quant_conv=False, mid_block_add_attention=True, **extra))
    structure_decoder_(vae.decoder)
    return vae


def _wan_like_vae(cls: Any, seed: int) -> Any:
    """Wan / Qwen-Image 3-D causal VAE: 8x spatial, 4x temporal, 16 latent channels."""
    vae = _seeded(seed, lambda: cls(base_dim=4, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
                                    attn_scales=[], temperal_downsample=[False, True, True]))
    structure_decoder_(vae.decoder)
    structure_decoder_(vae.post_quant_conv)
    return vae


def flux(seed: int) -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    clip_tok, t5_tok = toks.clip_tokenizer(), toks.t5_tokenizer()
    clip = _seeded(seed + 1, lambda: CLIPTextModel(CLIPTextConfig(
        vocab_size=len(clip_tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, projection_dim=32, max_position_embeddings=77,
        bos_token_id=clip_tok.bos_token_id, eos_token_id=clip_tok.eos_token_id,
        pad_token_id=clip_tok.pad_token_id)))
    t5 = _seeded(seed + 2, lambda: T5EncoderModel(T5Config(
        vocab_size=len(t5_tok), d_model=32, d_kv=16, d_ff=64, num_layers=1, num_heads=2,
        relative_attention_num_buckets=8, pad_token_id=t5_tok.pad_token_id,
        eos_token_id=t5_tok.eos_token_id)))
    transformer = _transformer(seed + 3, lambda: FluxTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
        guidance_embeds=True, axes_dims_rope=(4, 6, 6)))
    vae = _kl_vae(seed + 4, 16, scaling_factor=0.3611, shift_factor=0.1159)
    return FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER), vae=vae,
                        text_encoder=clip, tokenizer=clip_tok, text_encoder_2=t5,
                        tokenizer_2=t5_tok, transformer=transformer)


def _flux2_parts(seed: int, text_hidden: int, guidance: bool) -> tuple[Any, Any, Any]:
    from diffusers import (AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler,
                           Flux2Transformer2DModel)

    transformer = _transformer(seed + 3, lambda: Flux2Transformer2DModel(
        patch_size=1, in_channels=128, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=3 * text_hidden,
        timestep_guidance_channels=32, mlp_ratio=2.0, axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=guidance), text_gain=FLUX2_TEXT_GAIN)
    vae = _seeded(seed + 4, lambda: AutoencoderKLFlux2(
        block_out_channels=(16, 16, 16, 16), layers_per_block=1, latent_channels=32,
        norm_num_groups=16, sample_size=64, mid_block_add_attention=True))
    structure_decoder_(vae.decoder)
    structure_decoder_(vae.post_quant_conv)
    return transformer, vae, FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER)


def flux2(seed: int) -> Any:
    """FLUX.2 dev: a Mistral-3 text encoder (30+ layers: the pipeline reads 10/20/30)."""
    from diffusers import Flux2Pipeline
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration

    tok = toks.mistral_tokenizer()
    hidden = 16
    cfg = Mistral3Config(
        text_config={"model_type": "mistral", "vocab_size": len(tok), "hidden_size": hidden,
                     "intermediate_size": 32, "num_hidden_layers": 30, "num_attention_heads": 2,
                     "num_key_value_heads": 1, "head_dim": 8, "max_position_embeddings": 1024,
                     "pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id,
                     "eos_token_id": tok.eos_token_id},
        vision_config={"model_type": "pixtral", "hidden_size": 16, "intermediate_size": 32,
                       "num_hidden_layers": 1, "num_attention_heads": 2, "head_dim": 8,
                       "image_size": 64, "patch_size": 16},
        image_token_index=len(tok) - 1, spatial_merge_size=2, vision_feature_layer=-1)
    text_encoder = _seeded(seed + 1, lambda: Mistral3ForConditionalGeneration(cfg))
    transformer, vae, scheduler = _flux2_parts(seed, hidden, guidance=True)
    return Flux2Pipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tok,
                         transformer=transformer)


def flux2_klein(seed: int) -> Any:
    """FLUX.2 klein: a Qwen3 text encoder (27+ layers: the pipeline reads 9/18/27)."""
    from diffusers import Flux2KleinPipeline
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tok = toks.qwen_tokenizer()
    hidden = 16
    text_encoder = _seeded(seed + 1, lambda: Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=32, num_hidden_layers=27,
        num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=1024,
        tie_word_embeddings=True)))
    transformer, vae, scheduler = _flux2_parts(seed, hidden, guidance=False)
    return Flux2KleinPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                              tokenizer=tok, transformer=transformer, is_distilled=True)


def _qwen_vl(seed: int, tok: Any, hidden: int) -> Any:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>",
                                                      "<|vision_start|>", "<|vision_end|>")}
    cfg = Qwen2_5_VLConfig(
        text_config={"vocab_size": len(tok), "hidden_size": hidden, "intermediate_size": 64,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                     "max_position_embeddings": 4096,
                     "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}},
        vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
                       "out_hidden_size": hidden, "patch_size": 14, "spatial_merge_size": 2,
                       "temporal_patch_size": 2, "window_size": 112, "fullatt_block_indexes": [0]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    return _seeded(seed + 1, lambda: Qwen2_5_VLForConditionalGeneration(cfg))


def _qwen_parts(seed: int) -> dict[str, Any]:
    from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler,
                           QwenImageTransformer2DModel)

    tok = toks.qwen_tokenizer()
    hidden = 32
    transformer = _transformer(seed + 3, lambda: QwenImageTransformer2DModel(
        patch_size=2, in_channels=64, out_channels=16, num_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=hidden, axes_dims_rope=(4, 6, 6)))
    return {"scheduler": FlowMatchEulerDiscreteScheduler(**QWEN_SCHEDULER),
            "vae": _wan_like_vae(AutoencoderKLQwenImage, seed + 4),
            "text_encoder": _qwen_vl(seed, tok, hidden), "tokenizer": tok,
            "transformer": transformer}


def qwen_image(seed: int) -> Any:
    from diffusers import QwenImagePipeline

    return QwenImagePipeline(**_qwen_parts(seed))


def qwen_processor(tok: Any, image_processor: Any = None) -> Any:
    """Qwen2-VL processor from its parts. Where torchvision (which Qwen2-VL's video processor
    needs) is not installed, the video slot holds an inert placeholder: the image pipelines
    never send video, and the processor checks only the slot's type."""
    import transformers
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor

    try:
        from transformers import Qwen2VLVideoProcessor  # type: ignore[attr-defined]

        video: Any = Qwen2VLVideoProcessor()
    except ImportError:
        video = object.__new__(transformers.BaseVideoProcessor)
    return Qwen2VLProcessor(image_processor=image_processor or Qwen2VLImageProcessor(),
                            tokenizer=tok, video_processor=video,
                            chat_template=toks.QWEN_CHAT_TEMPLATE)


def qwen_image_edit_plus(seed: int) -> Any:
    from diffusers import QwenImageEditPlusPipeline

    parts = _qwen_parts(seed)
    return QwenImageEditPlusPipeline(processor=qwen_processor(parts["tokenizer"]), **parts)


def zimage(seed: int) -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, ZImagePipeline, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    tok = toks.qwen_tokenizer()
    hidden = 32
    text_encoder = _seeded(seed + 1, lambda: Qwen3Model(Qwen3Config(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=1024)))
    transformer = _transformer(seed + 3, lambda: ZImageTransformer2DModel(
        all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=32, n_layers=1,
        n_refiner_layers=1, n_heads=2, n_kv_heads=2, cap_feat_dim=hidden, axes_dims=[4, 6, 6],
        axes_lens=[256, 64, 64]))
    vae = _kl_vae(seed + 4, 16, scaling_factor=0.3611, shift_factor=0.1159)
    return ZImagePipeline(scheduler=FlowMatchEulerDiscreteScheduler(**ZIMAGE_SCHEDULER), vae=vae,
                          text_encoder=text_encoder, tokenizer=tok, transformer=transformer)


def wan(seed: int) -> Any:
    from diffusers import (AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline,
                           WanTransformer3DModel)
    from transformers import UMT5Config, UMT5EncoderModel

    tok = toks.t5_tokenizer()
    text_encoder = _seeded(seed + 1, lambda: UMT5EncoderModel(UMT5Config(
        vocab_size=len(tok), d_model=32, d_kv=16, d_ff=64, num_layers=1, num_heads=2,
        relative_attention_num_buckets=8, pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id)))
    transformer = _transformer(seed + 3, lambda: WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=16,
        out_channels=16, text_dim=32, freq_dim=32, ffn_dim=64, num_layers=1,
        rope_max_seq_len=64))
    return WanPipeline(tokenizer=tok, text_encoder=text_encoder,
                       vae=_wan_like_vae(AutoencoderKLWan, seed + 4),
                       scheduler=UniPCMultistepScheduler(**WAN_SCHEDULER), transformer=transformer)


def qwen_image_layered(seed: int) -> Any:
    """Qwen-Image-Layered (RGBA VAE, layer-3D RoPE): built in :mod:`.layered`."""
    from gt_gen.generate.backends.diffusers.tiny.layered import qwen_image_layered as build

    return build(seed)


#: Tiny model key -> builder. A case's pipeline class picks its key (``TINY_KEY``).
BUILDERS: dict[str, Callable[[int], Any]] = {
    "flux": flux, "flux2": flux2, "flux2_klein": flux2_klein, "qwen_image": qwen_image,
    "qwen_image_edit_plus": qwen_image_edit_plus, "qwen_image_layered": qwen_image_layered,
    "zimage": zimage, "wan": wan}
TINY_KEY = {"FluxPipeline": "flux", "Flux2Pipeline": "flux2", "Flux2KleinPipeline": "flux2_klein",
            "QwenImagePipeline": "qwen_image", "QwenImageEditPlusPipeline": "qwen_image_edit_plus",
            "QwenImageLayeredPipeline": "qwen_image_layered", "ZImagePipeline": "zimage",
            "WanPipeline": "wan"}
