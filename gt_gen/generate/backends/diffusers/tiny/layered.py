"""Tiny Qwen-Image-Layered: ``QwenImageLayeredPipeline`` on its real classes at toy widths.

What makes the layered pipeline its own family, and what the tiny model keeps of it (diffusers
0.39.0 ``pipelines/qwenimage/pipeline_qwenimage_layered.py``; the Qwen/Qwen-Image-Layered
repository's ``transformer/config.json`` and ``vae/config.json``):

* an RGBA VAE: ``AutoencoderKLQwenImage(input_channels=4)`` encodes the RGBA input image and
  decodes every layer to RGBA (the pipeline's image processor keeps the 4 channels);
* a transformer with ``use_layer3d_rope=True`` (the layer index is a third RoPE axis) and
  ``use_additional_t_cond=True`` (the pipeline passes ``additional_t_cond``), with
  ``zero_cond_t=False``; ``in_channels=64`` (16 latent channels, 2x2 packed) as Qwen-Image;
* a Qwen2.5-VL text encoder, its tokenizer and a ``Qwen2VLProcessor`` (the processor serves the
  pipeline's automatic caption, used only when the prompt is empty: the cases set a prompt);
* output: ``images[0]`` is the list of ``layers`` RGBA layers.

The output size is not the request's: the pipeline takes ``resolution`` (a bucket, 640 or 1024,
asserted) and sizes the output to ``resolution**2`` pixels at the input image's aspect ratio
(``calculate_dimensions``, a module function). At tiny size that would be 640x640 with 5 latent
frames, most of the run; :func:`tiny_area` scales the target area to the tiny case's
``width x height`` while a tiny case runs (never in the full profile), and the manifest records
it. The case keeps ``resolution = 640``, so the pipeline's own check still runs.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

LAYERED_PIPELINE = "QwenImageLayeredPipeline"
LAYERED_MODULE = "diffusers.pipelines.qwenimage.pipeline_qwenimage_layered"
#: The attribute :func:`tiny_area` replaces while a tiny layered case runs.
SIZE_FUNCTION = "calculate_dimensions"
#: Scale of the text stream's keys and values in the transformer's joint attention. Why: the
#: picture is decomposed from the input image, whose latents sit in the same attention as the
#: few prompt tokens; at gain 1 another prompt changed the picture by SSIM 0.992 / MAD 1.6
#: (measured), which a 0.99-SSIM gate cannot tell from the GT. At 8 (FLUX.2's value) another
#: prompt gives SSIM 0.88 / MAD 15 while another seed stays at SSIM ~0.42.
LAYERED_TEXT_GAIN = 8.0


def qwen_image_layered(seed: int) -> Any:
    """The tiny layered pipeline of ``seed`` (in memory; :mod:`..tiny` saves it)."""
    from diffusers import (AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler,
                           QwenImageLayeredPipeline, QwenImageTransformer2DModel)

    from gt_gen.generate.backends.diffusers.tiny import families as fam
    from gt_gen.generate.backends.diffusers.tiny import tokenizers as toks
    from gt_gen.generate.tiny_init import structure_decoder_

    tok = toks.qwen_tokenizer()
    hidden = 32
    transformer = fam._transformer(seed + 3, lambda: QwenImageTransformer2DModel(
        patch_size=2, in_channels=64, out_channels=16, num_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=hidden, axes_dims_rope=(4, 6, 6),
        zero_cond_t=False, use_additional_t_cond=True, use_layer3d_rope=True),
        text_gain=LAYERED_TEXT_GAIN)
    vae = fam._seeded(seed + 4, lambda: AutoencoderKLQwenImage(
        base_dim=4, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1, attn_scales=[],
        temperal_downsample=[False, True, True], input_channels=4))
    structure_decoder_(vae.decoder)
    structure_decoder_(vae.post_quant_conv)
    return QwenImageLayeredPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(**fam.QWEN_SCHEDULER), vae=vae,
        text_encoder=fam._qwen_vl(seed, tok, hidden), tokenizer=tok,
        processor=fam.qwen_processor(tok), transformer=transformer)


def scaled_dimensions(original: Callable[[float, float], tuple[int, int]],
                      area: int) -> Callable[[float, float], tuple[int, int]]:
    """``calculate_dimensions`` with its target area replaced by ``area`` (the ratio kept)."""
    def calculate(target_area: float, ratio: float) -> tuple[int, int]:
        return original(area, ratio)
    return calculate


@contextlib.contextmanager
def tiny_area(width: int, height: int) -> Iterator[dict[str, int]]:
    """While active, the layered pipeline sizes its output to ``width * height`` pixels (at the
    input's aspect ratio, multiples of 32 as the pipeline rounds) instead of ``resolution**2``.
    Yields the manifest record of the override; restores the module function on exit."""
    mod = importlib.import_module(LAYERED_MODULE)
    original = getattr(mod, SIZE_FUNCTION)
    area = width * height
    setattr(mod, SIZE_FUNCTION, scaled_dimensions(original, area))
    try:
        yield {f"{LAYERED_MODULE}.{SIZE_FUNCTION}.target_area": area}
    finally:
        setattr(mod, SIZE_FUNCTION, original)
