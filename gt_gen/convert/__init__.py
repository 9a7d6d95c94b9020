"""Official LTX-2 checkpoint -> diffusers LTX-2 component folders (``gt-gen convert``).

Why: a second implementation is only a fair candidate if it runs on exactly the weights the GT
was generated with. The official checkpoint is one safetensors file (transformer, connectors,
video VAE, audio VAE, vocoder; config in its metadata) plus a Gemma root, a spatial upsampler
and a distilled LoRA; diffusers wants one folder per component with its own config. The
conversion is a key table (:mod:`gt_gen.convert.ltx2_keys`) and a config translation
(:mod:`gt_gen.convert.ltx2_configs`); every tensor is mapped or the run stops naming the
unmapped ones (the official loader's ``strict=False`` taught us why).
"""

from gt_gen.convert.ltx2 import ConvertedLTX2, convert_ltx2

__all__ = ["ConvertedLTX2", "convert_ltx2"]
