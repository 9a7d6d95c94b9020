"""The ``random-full`` profile: the real LTX-2 architectures at their real sizes, random weights.

Why: no hub here, so full-size generation had never run. This profile answers what a full-size
GT case costs (wall time, time per denoising step, peak GPU memory) and proves the full path fits
on the device, without 60 GB of weights: the official pipelines run unmodified, the official
``ModelLedger`` builds every model from the checkpoint config through its own builders, and only
the *weights* come from elsewhere -- generated on the device, seeded, std ~ 1/sqrt(fan_in).

How the official code is fed (its own extension point, no patch): every
``SingleGPUModelBuilder`` takes a ``model_loader`` (the strategy that reads ``metadata(path)`` and
``load(paths, sd_ops, device)``). :func:`install_random_loaders` replaces each builder of a ledger
(``dataclasses.replace``) with one whose loader is a :class:`RandomStateDictLoader`: ``metadata``
is the official reader (the config lives in a small *skeleton* checkpoint written here, exactly as
in the real file's safetensors metadata), and ``load`` returns random tensors for every key the
model has, on the builder's device, in bf16. The builder then does what it always does
(``load_state_dict(strict=False, assign=True)``, LoRA fusion, dtype, device) and
:class:`RandomFullMemo` verifies that nothing stayed on ``meta``. Gemma's tied ``lm_head`` shares
its tensor with ``embed_tokens`` as the official key ops make it.

Configurations (facts, not guesses where a public source had them):

* LTX-2.3 22B: the transformer / video VAE / audio VAE / vocoder (``VocoderWithBWE``) sections of
  the ``ltx-2.3-22b-dev.safetensors`` config metadata as transcribed in tenstorrent/tt-forge-models
  ``ltx2_3/pytorch/loader.py``; what 2.3 adds over ``ltx_core``'s defaults (the LTX-2 19B shape):
  gated attention (video and connectors), cross-attention AdaLN, the caption projection before the
  connector (V2 feature extractor), 8-layer 32x128 video / 32x64 audio connectors, a 4-stage video
  VAE with 128 base channels, a BigVGAN-style vocoder with bandwidth extension to 48 kHz.
  Spatial upscaler x2 v1.1: ``mid_channels`` 1024, 4 blocks per stage.
* LTX-2 19B: ``ltx_core`` 1.0.0's defaults plus the 19B header fields published in public
  checkpoint planners (split float64 RoPE, ``av_ca_timestep_scale_multiplier`` 1000, flat HiFi-GAN
  vocoder at 24 kHz, the v0.9.5 VAE block stack with timestep conditioning off); connectors are
  ``ltx_core``'s defaults (2 layers of 30x128). Less certain than 2.3: no official case compares it.
* Gemma-3-12B: ``ltx_core.text_encoders.gemma.config.GEMMA3_CONFIG_FOR_LTX``, untouched. The
  tokenizer is the tiny profile's locally trained one (prompts pad to 1024 tokens either way, so
  the text encoder's cost does not depend on it).
* Distilled LoRA: rank 384 (the released file's name) over every linear weight of the
  transformer blocks whose both sides are >= 384 (about 7.4 GB in bf16 at the 2.3 shapes); which
  modules the released LoRA covers is an assumption.

``scale`` < 1 (tests and CPU dry runs only) shrinks every width and depth and swaps in the tiny
Gemma, so CI proves the same construction path in a second.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gt_gen.cases import Case
from gt_gen.errors import ConfigError, GenerationError
from gt_gen.generate.backends.ltx.official import ModelMemo, OfficialRunner
from gt_gen.generate.backends.ltx.weights import ResolvedModel
from gt_gen.generate.cache import cache_root

PROFILE = "random-full"
#: Bump when anything that shapes the skeleton files changes (part of their cache key).
SKELETON_VERSION = "1"
#: safetensors metadata key that marks a skeleton file and carries what its weights are.
MARKER = "gt_gen_random_full"
LORA_RANK = 384
GEMMA_DIR = "gemma"
IMAGE = "conditioning-standin.png"

_COMMON_TRANSFORMER = {
    "dropout": 0.0, "attention_bias": True, "num_vector_embeds": None,
    "activation_fn": "gelu-approximate", "num_embeds_ada_norm": 1000,
    "use_linear_projection": False, "only_cross_attention": False, "cross_attention_norm": True,
    "double_self_attention": False, "upcast_attention": False, "standardization_norm": "rms_norm",
    "norm_elementwise_affine": False, "qk_norm": "rms_norm", "positional_embedding_type": "rope",
    "use_audio_video_cross_attention": True, "share_ff": False, "av_cross_ada_norm": True,
    "use_middle_indices_grid": True, "norm_eps": 1e-06, "attention_type": "default",
    "num_attention_heads": 32, "attention_head_dim": 128, "in_channels": 128, "out_channels": 128,
    "num_layers": 48, "cross_attention_dim": 4096, "caption_channels": 3840,
    "audio_num_attention_heads": 32, "audio_attention_head_dim": 64, "audio_in_channels": 128,
    "audio_out_channels": 128, "audio_cross_attention_dim": 2048,
    "positional_embedding_theta": 10000.0, "positional_embedding_max_pos": [20, 2048, 2048],
    "audio_positional_embedding_max_pos": [20], "timestep_scale_multiplier": 1000,
    "av_ca_timestep_scale_multiplier": 1000.0, "causal_temporal_positioning": True,
    "rope_type": "split", "frequencies_precision": "float64",
    "connector_positional_embedding_max_pos": [4096], "connector_num_learnable_registers": 128,
}

#: What LTX-2.3 22B sets on top (the V2 text path and the new attention features).
_LTX23_TRANSFORMER = {
    **_COMMON_TRANSFORMER,
    "use_embeddings_connector": True, "connector_attention_head_dim": 128,
    "connector_num_attention_heads": 32, "connector_num_layers": 8, "connector_norm_output": True,
    "apply_gated_attention": True, "connector_apply_gated_attention": True,
    "caption_projection_first_linear": False, "caption_projection_second_linear": False,
    "caption_proj_input_norm": False, "connector_learnable_registers_std": 1,
    "caption_proj_before_connector": True, "audio_connector_attention_head_dim": 64,
    "audio_connector_num_attention_heads": 32, "cross_attention_adaln": True,
    "text_encoder_norm_type": "per_token_rms",
}

_LTX23_VAE = {
    "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128,
    "encoder_blocks": [["res_x", {"num_layers": 4}], ["compress_space_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 6}], ["compress_time_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 4}], ["compress_all_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 2}], ["compress_all_res", {"multiplier": 1}],
                       ["res_x", {"num_layers": 2}]],
    "decoder_blocks": [["res_x", {"num_layers": 4}], ["compress_space", {"multiplier": 2}],
                       ["res_x", {"num_layers": 6}], ["compress_time", {"multiplier": 2}],
                       ["res_x", {"num_layers": 4}], ["compress_all", {"multiplier": 1}],
                       ["res_x", {"num_layers": 2}], ["compress_all", {"multiplier": 2}],
                       ["res_x", {"num_layers": 2}]],
    "scaling_factor": 1.0, "norm_layer": "pixel_norm", "patch_size": 4, "latent_log_var": "uniform",
    "use_quant_conv": False, "causal_decoder": False, "timestep_conditioning": False,
    "normalize_latent_channels": False, "encoder_base_channels": 128, "decoder_base_channels": 128,
    "spatial_padding_mode": "zeros",
}

_LTX2_VAE = {
    **_LTX23_VAE,
    "encoder_blocks": [["res_x", {"num_layers": 4}], ["compress_space_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 6}], ["compress_time_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 6}], ["compress_all_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 2}], ["compress_all_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 2}]],
    "decoder_blocks": [["res_x", {"num_layers": 5}],
                       ["compress_all", {"multiplier": 2, "residual": True}],
                       ["res_x", {"num_layers": 5}],
                       ["compress_all", {"multiplier": 2, "residual": True}],
                       ["res_x", {"num_layers": 5}],
                       ["compress_all", {"multiplier": 2, "residual": True}],
                       ["res_x", {"num_layers": 5}]],
    "spatial_padding_mode": "reflect",
}

_AUDIO_VAE = {
    "model": {"params": {"ddconfig": {
        "double_z": True, "mel_bins": 64, "z_channels": 8, "resolution": 256,
        "downsample_time": False, "in_channels": 2, "out_ch": 2, "ch": 128, "ch_mult": [1, 2, 4],
        "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0,
        "mid_block_add_attention": False, "norm_type": "pixel", "causality_axis": "height"},
        "sampling_rate": 16000}},
    "preprocessing": {"stft": {"filter_length": 1024, "hop_length": 160, "win_length": 1024,
                               "causal": True},
                      "mel": {"n_mel_channels": 64, "mel_fmin": 0, "mel_fmax": 8000}},
}

_BIGVGAN = {"resblock": "AMP1", "resblock_kernel_sizes": [3, 7, 11],
            "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "stereo": True,
            "use_tanh_at_final": False, "activation": "snakebeta", "use_bias_at_final": False}
_LTX23_VOCODER = {
    "vocoder": {**_BIGVGAN, "upsample_initial_channel": 1536, "upsample_rates": [5, 2, 2, 2, 2, 2],
                "upsample_kernel_sizes": [11, 4, 4, 4, 4, 4]},
    "bwe": {**_BIGVGAN, "upsample_initial_channel": 512, "upsample_rates": [6, 5, 2, 2, 2],
            "upsample_kernel_sizes": [12, 11, 4, 4, 4], "apply_final_activation": False,
            "input_sampling_rate": 16000, "output_sampling_rate": 48000, "hop_length": 80,
            "n_fft": 512, "win_size": 512, "num_mels": 64},
}
_LTX2_VOCODER = {"resblock": "1", "stereo": True, "upsample_initial_channel": 1024,
                 "upsample_rates": [6, 5, 2, 2, 2], "upsample_kernel_sizes": [16, 15, 8, 4, 4],
                 "resblock_kernel_sizes": [3, 7, 11],
                 "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]]}

_UPSAMPLER = {"_class_name": "LatentUpsampler", "in_channels": 128, "mid_channels": 1024,
              "num_blocks_per_stage": 4, "dims": 3, "spatial_upsample": True,
              "temporal_upsample": False, "spatial_scale": 2.0, "rational_resampler": False}


@dataclass(frozen=True)
class Family:
    """One released model family: its checkpoint config, upsampler config and version string."""

    name: str
    model_version: str
    main: dict[str, Any]
    upsampler: dict[str, Any]


FAMILIES: dict[str, Family] = {
    "ltx-2.3-22b": Family("ltx-2.3-22b", "2.3.0", {
        "transformer": _LTX23_TRANSFORMER, "vae": _LTX23_VAE, "audio_vae": _AUDIO_VAE,
        "vocoder": _LTX23_VOCODER}, _UPSAMPLER),
    "ltx-2-19b": Family("ltx-2-19b", "2.0.0", {
        "transformer": _COMMON_TRANSFORMER, "vae": _LTX2_VAE, "audio_vae": _AUDIO_VAE,
        "vocoder": _LTX2_VOCODER}, _UPSAMPLER),
}


def family_of(case: Case) -> Family:
    """The family a full-size case's checkpoint belongs to (by its released file name)."""
    name = Path(case.model.checkpoint).name
    if name.startswith("ltx-2.3-22b"):
        return FAMILIES["ltx-2.3-22b"]
    if name.startswith("ltx-2-19b"):
        return FAMILIES["ltx-2-19b"]
    raise ConfigError(f"case {case.id}: --profile random-full knows the LTX-2.3 22B and LTX-2 19B "
                      f"checkpoints, not {name!r}", path=case.source)


# --- scaling (tests and CPU dry runs only) -------------------------------------------------------

def _s(n: int, scale: float, floor: int = 1) -> int:
    return max(floor, int(round(n * scale)))


def scaled_main(main: dict[str, Any], scale: float) -> dict[str, Any]:
    """``main`` with widths and depths shrunk by ``scale`` (1.0: unchanged).

    Structural numbers stay (128 latent channels, 32x/8x VAE compression, audio VAE ``ch`` 128);
    head dims keep their ratios so the stream widths stay consistent with the connectors. The text
    side follows the tiny Gemma (its hidden size feeds the feature extractor)."""
    cfg = copy.deepcopy(main)
    if scale >= 1.0:
        return cfg
    t = cfg["transformer"]
    heads = _s(32, scale, 2)
    t["num_layers"] = _s(t["num_layers"], scale, 2)
    for k in ("num_attention_heads", "audio_num_attention_heads"):
        t[k] = heads
    t["attention_head_dim"] = max(32, _s(128, scale) // 2 * 2)
    t["audio_attention_head_dim"] = max(16, t["attention_head_dim"] // 2)
    t["cross_attention_dim"] = t["num_attention_heads"] * t["attention_head_dim"]
    t["audio_cross_attention_dim"] = t["audio_num_attention_heads"] * t["audio_attention_head_dim"]
    if t.get("caption_proj_before_connector"):
        t["connector_num_attention_heads"] = t["num_attention_heads"]
        t["connector_attention_head_dim"] = t["attention_head_dim"]
        t["audio_connector_num_attention_heads"] = t["audio_num_attention_heads"]
        t["audio_connector_attention_head_dim"] = t["audio_attention_head_dim"]
        t["connector_num_layers"] = _s(t["connector_num_layers"], scale)
    else:
        from gt_gen.generate.backends.ltx.tiny_config import gemma_config_kwargs

        t["caption_channels"] = gemma_config_kwargs()["text"]["hidden_size"]
        t["connector_num_attention_heads"] = 2
        t["connector_attention_head_dim"] = t["caption_channels"] // 2
        t["connector_num_layers"] = 1
    v = cfg["vae"]
    for k in ("encoder_base_channels", "decoder_base_channels"):
        v[k] = max(8, _s(v[k], scale) // 8 * 8)
    for blocks in (v["encoder_blocks"], v["decoder_blocks"]):
        for _, params in blocks:
            if "num_layers" in params:
                params["num_layers"] = 1
    for _, params in v["encoder_blocks"]:  # the encoder has no base-width knob: keep it at 128
        if "multiplier" in params:
            params["multiplier"] = 1
    dd = cfg["audio_vae"]["model"]["params"]["ddconfig"]
    dd["num_res_blocks"], dd["ch_mult"] = 1, [1] * len(dd["ch_mult"])
    voc = cfg["vocoder"]
    for sub in ([voc["vocoder"], voc["bwe"]] if "bwe" in voc else [voc]):
        floor = 2 ** (len(sub["upsample_rates"]) + 1)
        sub["upsample_initial_channel"] = max(floor, _s(sub["upsample_initial_channel"], scale))
        sub["resblock_kernel_sizes"] = sub["resblock_kernel_sizes"][:1]
        sub["resblock_dilation_sizes"] = sub["resblock_dilation_sizes"][:1]
    return cfg


def scaled_upsampler(up: dict[str, Any], scale: float) -> dict[str, Any]:
    cfg = dict(up)
    if scale < 1.0:
        cfg["mid_channels"] = max(32, _s(cfg["mid_channels"], scale) // 32 * 32)
        cfg["num_blocks_per_stage"] = 1
    return cfg


# --- the skeleton: configs on disk, no weights ---------------------------------------------------

@dataclass(frozen=True)
class Skeleton:
    """Paths of one family's skeleton files (configs in safetensors metadata, zero tensors)."""

    root: Path
    checkpoint: Path
    spatial_upsampler: Path
    distilled_lora: Path
    gemma_root: Path
    image: Path
    key: str


def _marker(kind: str, family: Family, seed: int, scale: float, **extra: Any) -> str:
    return json.dumps({"kind": kind, "family": family.name, "seed": seed, "scale": scale, **extra},
                      sort_keys=True)


def skeleton_key(family: Family, seed: int, scale: float, checkpoint_name: str) -> str:
    from importlib.metadata import version

    blob = json.dumps({"v": SKELETON_VERSION, "family": family.name, "seed": seed, "scale": scale,
                       "checkpoint": checkpoint_name,
                       "main": scaled_main(family.main, scale), "ltx_core": version("ltx-core"),
                       "transformers": version("transformers")}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _empty_safetensors(path: Path, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    save_file({}, str(path), metadata=metadata)


def _write_image(path: Path, seed: int) -> None:
    """A deterministic 600x600 stand-in for a case's conditioning image (sglang's input size)."""
    from PIL import Image

    gen = torch.Generator().manual_seed(seed)
    small = torch.rand(3, 16, 16, generator=gen)
    big = torch.nn.functional.interpolate(small[None], size=(600, 600), mode="bilinear",
                                          align_corners=False)[0]
    arr = (big.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path)


def build_skeleton(family: Family, *, seed: int = 0, scale: float = 1.0,
                   root: Path | None = None, checkpoint_name: str | None = None) -> Skeleton:
    """Write (once, atomically, cached by content) the family's skeleton files."""
    ckpt_name = checkpoint_name or f"{family.name}-dev.safetensors"
    key = skeleton_key(family, seed, scale, ckpt_name)
    final = (root or cache_root() / "random-full") / key

    def paths(base: Path) -> Skeleton:
        return Skeleton(root=base, checkpoint=base / ckpt_name,
                        spatial_upsampler=base / "spatial-upscaler-x2.safetensors",
                        distilled_lora=base / "distilled-lora-384.safetensors",
                        gemma_root=base / GEMMA_DIR, image=base / IMAGE, key=key)

    done = paths(final)
    if (final / "files.json").is_file():
        return done
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        sk = paths(tmp)
        main = scaled_main(family.main, scale)
        _empty_safetensors(sk.checkpoint, {"config": json.dumps(main, sort_keys=True),
                                           "model_version": family.model_version,
                                           MARKER: _marker("main", family, seed, scale)})
        _empty_safetensors(sk.spatial_upsampler, {
            "config": json.dumps(scaled_upsampler(family.upsampler, scale), sort_keys=True),
            MARKER: _marker("upsampler", family, seed, scale)})
        rank = max(2, _s(LORA_RANK, scale))
        _empty_safetensors(sk.distilled_lora, {
            "config": json.dumps(main, sort_keys=True),
            MARKER: _marker("lora", family, seed, scale, rank=rank)})
        sk.gemma_root.mkdir()
        from gt_gen.generate.backends.ltx.tiny import _build_tokenizer

        _build_tokenizer(sk.gemma_root)
        _empty_safetensors(sk.gemma_root / "model-00001-of-00001.safetensors",
                           {"format": "pt", MARKER: _marker("gemma", family, seed, scale)})
        _write_image(sk.image, seed)
        listing = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        (tmp / "files.json").write_text(json.dumps(listing, indent=2))
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "files.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return done


def skeleton_marker(path: str | Path) -> dict[str, Any] | None:
    """The random-full marker of a skeleton file, or None for any other file."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception:
        return None
    raw = meta.get(MARKER)
    return json.loads(raw) if raw else None


def resolve_random_full(case: Case, *, seed: int = 0, scale: float = 1.0,
                        root: Path | None = None) -> ResolvedModel:
    """The case's model as a skeleton of its family (weights are generated when built)."""
    fam = family_of(case)
    sk = build_skeleton(fam, seed=seed, scale=scale, root=root,
                        checkpoint_name=Path(case.model.checkpoint).name)
    m = case.model
    return ResolvedModel(
        checkpoint=sk.checkpoint, gemma_root=sk.gemma_root,
        spatial_upsampler=sk.spatial_upsampler if m.spatial_upsampler else None,
        distilled_lora=sk.distilled_lora if m.distilled_lora else None,
        provenance={"profile": PROFILE, "repo": m.repo, "family": fam.name, "weights": "random",
                    "seed": seed, "scale": scale, "skeleton_key": sk.key,
                    "conditioning_image": "synthetic stand-in" if case.request.image else None})


# --- random weights through the official builders ------------------------------------------------

def _seed_of(seed: int, what: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{what}".encode()).digest()[:8], "big") >> 1


def random_(t: torch.Tensor, name: str, gen: torch.Generator) -> None:
    """Fill ``t`` in place: std 1/sqrt(fan_in) for matrices (0.02 lets bf16 outputs ignore their
    inputs), ~1 for 1-D scales, small biases, positive VAE statistics, zeros for integers."""
    if not torch.is_floating_point(t):
        t.zero_()
    elif name.endswith("std-of-means"):
        t.uniform_(0.5, 1.5, generator=gen)
    elif name.endswith("mean-of-means"):
        t.normal_(0.0, 0.1, generator=gen)
    elif t.ndim >= 2:
        t.normal_(0.0, 1.0 / math.sqrt(max(1, math.prod(t.shape[1:]))), generator=gen)
    elif name.endswith("bias"):
        t.normal_(0.0, 0.02, generator=gen)
    elif t.ndim == 1:
        t.normal_(1.0, 0.1, generator=gen)
    else:
        t.copy_(torch.randn((), generator=gen, device=t.device).abs() + 0.5)


@dataclass
class BuildStats:
    """What the random loaders generated (for the bench and the manifest)."""

    tensors: int = 0
    bytes: int = 0
    seconds: float = 0.0
    by_model: dict[str, int] = field(default_factory=dict)


class RandomStateDictLoader:
    """An ``ltx_core`` ``StateDictLoader`` that reads configs from the skeleton and makes weights.

    ``load`` returns, for the builder's model class, one tensor per state-dict key of the model
    built from that config (so no key is missing and none is extra), generated on ``device`` (the
    generator runs on ``gen_device`` when that is faster, e.g. a LoRA bound for the CPU)."""

    def __init__(self, configurator: Any, *, gen_device: torch.device, stats: BuildStats,
                 dtype: torch.dtype = torch.bfloat16) -> None:
        from ltx_core.loader import SafetensorsModelStateDictLoader

        self.configurator = configurator
        self.gen_device = gen_device
        self.stats = stats
        self.dtype = dtype
        self._official = SafetensorsModelStateDictLoader()

    def metadata(self, path: str) -> dict:
        return self._official.metadata(path)

    def load(self, path: str | list[str], sd_ops: Any = None,
             device: torch.device | None = None) -> Any:
        from ltx_core.loader.primitives import StateDict

        paths = path if isinstance(path, list) else [path]
        marker = skeleton_marker(paths[0])
        if marker is None:
            raise GenerationError(f"random-full: {paths[0]} is not a random-full skeleton file; "
                                  "refusing to mix real and random weights")
        device = torch.device(device) if device is not None else self.gen_device
        t0 = time.perf_counter()
        if marker["kind"] == "lora":
            sd = self._lora(paths[0], marker, sd_ops, device)
            what = "distilled_lora"
        else:
            sd, what = self._model(paths[0], marker, device)
        if self.gen_device.type == "cuda":
            torch.cuda.synchronize(self.gen_device)
        nbytes = sum(v.nbytes for v in {id(v): v for v in sd.values()}.values())
        self.stats.seconds += time.perf_counter() - t0
        self.stats.tensors += len(sd)
        self.stats.bytes += nbytes
        self.stats.by_model[what] = self.stats.by_model.get(what, 0) + nbytes
        return StateDict(sd=sd, device=device, size=nbytes, dtype={v.dtype for v in sd.values()})

    def _fill(self, shapes: dict[str, tuple[torch.Size, torch.dtype]], seed: int,
              device: torch.device) -> dict[str, torch.Tensor]:
        gen = torch.Generator(device=self.gen_device).manual_seed(seed)
        out: dict[str, torch.Tensor] = {}
        for name in sorted(shapes):
            shape, dtype = shapes[name]
            t = torch.empty(shape, dtype=dtype, device=self.gen_device)
            random_(t, name, gen)
            out[name] = t if device == self.gen_device else t.to(device)
        return out

    def _model(self, path: str, marker: dict[str, Any],
               device: torch.device) -> tuple[dict[str, torch.Tensor], str]:
        config = self.metadata(path)
        with torch.device("meta"):
            model = self.configurator.from_config(config)
        named = model.state_dict(keep_vars=True)
        # Tied parameters (Gemma's lm_head and embed_tokens) get one tensor, as the official key
        # ops duplicate one stored tensor into both keys.
        first: dict[int, str] = {}
        tied: dict[str, str] = {}
        shapes: dict[str, tuple[torch.Size, torch.dtype]] = {}
        for name, t in named.items():
            if id(t) in first:
                tied[name] = first[id(t)]
                continue
            first[id(t)] = name
            dtype = self.dtype if torch.is_floating_point(t) else t.dtype
            shapes[name] = (t.shape, dtype)
        what = self.configurator.__name__.removesuffix("Configurator")
        if "lm_head" not in " ".join(tied) and "model.lm_head.weight" in shapes and \
                "model.model.language_model.embed_tokens.weight" in shapes:
            del shapes["model.lm_head.weight"]
            tied["model.lm_head.weight"] = "model.model.language_model.embed_tokens.weight"
        sd = self._fill(shapes, _seed_of(marker["seed"], what), device)
        for name, src in tied.items():
            sd[name] = sd[src]
        return sd, what

    def _lora(self, path: str, marker: dict[str, Any], sd_ops: Any,
              device: torch.device) -> dict[str, torch.Tensor]:
        """Rank-``r`` factors over every linear weight of the transformer blocks, in the file's
        key space (``diffusion_model.<module>.lora_A/B.weight``) mapped by the LoRA's sd_ops."""
        from ltx_core.model.transformer import LTXModelConfigurator

        config = json.loads(self._official_metadata_raw(path)["config"])
        with torch.device("meta"):
            model = LTXModelConfigurator.from_config(config)
        rank = int(marker["rank"])
        shapes: dict[str, tuple[torch.Size, torch.dtype]] = {}
        for name, mod in model.named_modules():
            if not (name.startswith("transformer_blocks.") and isinstance(mod, torch.nn.Linear)):
                continue
            out_f, in_f = mod.weight.shape
            if min(out_f, in_f) < rank:
                continue
            for part, shape in (("lora_A", (rank, in_f)), ("lora_B", (out_f, rank))):
                key = f"diffusion_model.{name}.{part}.weight"
                mapped = key if sd_ops is None else sd_ops.apply_to_key(key)
                if mapped is not None:
                    shapes[mapped] = (torch.Size(shape), self.dtype)
        return self._fill(shapes, _seed_of(marker["seed"], "distilled_lora"), device)

    @staticmethod
    def _official_metadata_raw(path: str) -> dict[str, str]:
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            return dict(f.metadata() or {})


BUILDER_ATTRS = ("transformer_builder", "vae_decoder_builder", "vae_encoder_builder",
                 "audio_encoder_builder", "audio_decoder_builder", "vocoder_builder",
                 "embeddings_processor_builder", "text_encoder_builder", "upsampler_builder")


def install_random_loaders(ledger: Any, stats: BuildStats) -> Any:
    """Give every builder of ``ledger`` a :class:`RandomStateDictLoader` (its official field)."""
    gen_device = torch.device(ledger.device)
    for attr in BUILDER_ATTRS:
        builder = getattr(ledger, attr, None)
        if builder is None:
            continue
        loader = RandomStateDictLoader(builder.model_class_configurator, gen_device=gen_device,
                                       stats=stats)
        setattr(ledger, attr, dataclasses.replace(builder, model_loader=loader))
    return ledger


def unmaterialised(model: torch.nn.Module) -> list[str]:
    """Names of parameters and buffers still on ``meta`` (empty when fully built)."""
    return [n for n, t in [*model.named_parameters(), *model.named_buffers()]
            if t.device.type == "meta"]


class RandomFullMemo(ModelMemo):
    """The load-once memo of :mod:`.official`, on ledgers whose builders make random weights."""

    def __init__(self, reuse: str = "models", *, scale: float = 1.0) -> None:
        super().__init__(reuse)
        self.stats = BuildStats()
        self.scale = scale

    def attach(self, ledger: Any) -> Any:
        ledger = super().attach(ledger)
        for p in (ledger.checkpoint_path, ledger.spatial_upsampler_path,
                  *(lo.path for lo in ledger.loras)):
            if p is not None and skeleton_marker(p) is None:
                raise GenerationError(f"random-full: {p} is not a random-full skeleton file")
        return install_random_loaders(ledger, self.stats)

    def _wrap(self, build: Callable[[], Any], key: tuple) -> Callable[[], Any]:
        inner = super()._wrap(build, key)

        def wrapped() -> Any:
            with self.text_side():
                try:
                    model = inner()
                except NotImplementedError as exc:  # the ledger's .to() on a half-meta model
                    raise GenerationError(f"random-full: {key[0]} left tensors on meta ({exc})") from exc
            missing = unmaterialised(model)
            if missing:
                raise GenerationError(f"random-full: {key[0]} has {len(missing)} tensors left on "
                                      f"meta (e.g. {missing[:3]})")
            return model
        return wrapped

    @contextlib.contextmanager
    def text_side(self) -> Iterator[None]:
        """Scaled-down runs build the tiny Gemma (the 12B constant stays at full scale)."""
        if self.scale >= 1.0:
            yield
            return
        from gt_gen.generate.backends.ltx.tiny_patch import tiny_gemma_constant

        with tiny_gemma_constant():
            yield


class RandomFullRunner(OfficialRunner):
    """:class:`~.official.OfficialRunner` whose models get random weights; images are stand-ins."""

    def __init__(self, device: torch.device, reuse: str = "models", *, scale: float = 1.0) -> None:
        super().__init__(device, reuse)
        self.memo = RandomFullMemo(reuse, scale=scale)

    def conditioning_images(self, case: Case, model: ResolvedModel | None = None) -> list[Any]:
        """The case's image conditioning with a synthetic stand-in picture (no download)."""
        from ltx_pipelines.utils.args import ImageConditioningInput

        img = case.request.image
        if img is None:
            return []
        if model is None:
            raise GenerationError(f"case {case.id}: random-full needs its skeleton for the image")
        return [ImageConditioningInput(path=str(model.checkpoint.parent / IMAGE),
                                       frame_idx=img.frame, strength=img.strength, crf=img.crf)]
