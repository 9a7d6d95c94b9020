"""Build the tiny LTX-2 checkpoints offline, in the exact formats the official loader reads.

Why: model weights cannot be downloaded on CI or on a laptop without a hub token, yet GT
generation must run the *official* pipeline code end to end. The tiny profile therefore
builds, from a seed, a main safetensors checkpoint (config in its metadata; transformer,
connectors, video VAE, audio VAE, vocoder), a spatial upsampler, a distilled LoRA and a
Gemma-3 root folder (tiny text model, locally trained SentencePiece tokenizer), and caches
them by content hash. Every parameter is initialised with std ~ 1/sqrt(fan_in): with the
usual 0.02 the bf16 vocoder output ignores its input, and seeds would not matter.

The official builder loads with ``strict=False``; :func:`verify_coverage` checks that every
parameter and buffer of every model is present, so a wrong key prefix fails here instead of
leaving weights on ``meta`` behind a warning.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from typing import Any
from dataclasses import dataclass
from pathlib import Path

import torch

from gt_gen.errors import GenerationError
from gt_gen.generate.cache import cache_root
from gt_gen.generate.backends.ltx.tiny_config import (TINY_BUILDER_VERSION, TINY_VOCAB, gemma_config_kwargs,
                                         main_config, upsampler_config)
from gt_gen.generate.backends.ltx.tiny_patch import tiny_gemma_config, tiny_gemma_constant

MAIN_CHECKPOINT = "tiny-ltx-2.3-dev.safetensors"
UPSAMPLER = "tiny-spatial-upscaler-x2.safetensors"
DISTILLED_LORA = "tiny-distilled-lora.safetensors"
GEMMA_DIR = "gemma"
LORA_RANK = 4
MODEL_VERSION = "2.3.0-tiny"


@dataclass(frozen=True)
class TinyCheckpoints:
    """Paths of one built tiny model family."""

    root: Path
    checkpoint: Path
    spatial_upsampler: Path
    distilled_lora: Path
    gemma_root: Path
    key: str

    def files(self) -> list[Path]:
        """Every file of the family, sorted, for hashing into the manifest."""
        return sorted(p for p in self.root.rglob("*") if p.is_file() and p.name != "files.json")


def cache_key(seed: int) -> str:
    """Content key: builder version, every config, seed and the versions that shape the files."""
    from importlib.metadata import version

    blob = json.dumps({"v": TINY_BUILDER_VERSION, "seed": seed, "main": main_config(),
                       "up": upsampler_config(), "gemma": gemma_config_kwargs(),
                       "vocab": TINY_VOCAB, "ltx_core": version("ltx-core"),
                       "transformers": version("transformers")}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _init_(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Deterministic init: std 1/sqrt(fan_in) for matrices, ones for 1-D scales, small biases."""
    with torch.no_grad():
        for name, tensor in sorted(module.state_dict(keep_vars=True).items()):
            if not torch.is_floating_point(tensor):
                continue
            if name.endswith("std-of-means"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=gen))
            elif name.endswith("mean-of-means"):
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=gen))
            elif tensor.ndim >= 2:
                fan_in = max(1, math.prod(tensor.shape[1:]))
                tensor.copy_(torch.randn(tensor.shape, generator=gen) / math.sqrt(fan_in))
            elif name.endswith("bias"):
                tensor.copy_(0.02 * torch.randn(tensor.shape, generator=gen))
            else:
                tensor.copy_(1.0 + 0.1 * torch.randn(tensor.shape, generator=gen))


def structure_video_decoder_(decoder: torch.nn.Module) -> None:
    """Make the tiny video decoder a smooth function of the latents (gt_gen.generate.tiny_init).

    At tiny size the latent is 2x2 pixels (32x spatial compression), so the picture has to come
    from the latent's *channels*: the first depth-to-space stages unpack channels into
    sub-positions without blurring (:func:`~gt_gen.generate.tiny_init.depth_to_space`, as a
    trained VAE's channels carry sub-pixel detail); the last stage and the final unpatchify
    upsample nearest and blur, R, G and B reading different channels. The picture is a smooth
    field of blobs that another seed changes; reruns stay bit-identical."""
    from gt_gen.generate.tiny_init import depth_to_space, nearest, structure_decoder_

    ups = [(name, mod) for name, mod in decoder.named_modules()
           if type(mod).__name__ == "DepthToSpaceUpsample"]
    unpack = [f"{name}.conv.conv" for name, _ in ups[:-1]]
    maps = {f"{name}.conv.conv": depth_to_space(math.prod(mod.stride)) for name, mod in ups[:-1]}
    maps[f"{ups[-1][0]}.conv.conv"] = nearest(math.prod(ups[-1][1].stride))
    maps["conv_out.conv"] = nearest(int(decoder.patch_size) ** 2, stride=5)  # type: ignore[arg-type]
    structure_decoder_(decoder, channel_maps=maps, output_gain=1.5,
                       sharp=frozenset(["conv_in.conv", *unpack]))


#: Scale of the tiny transformer's output layers (video and audio). Why: a random transformer's
#: velocity is large and mostly a per-channel offset that would swamp the initial noise; damped,
#: the final latents keep the seed's structure plus a prompt-dependent drift.
OUTPUT_GAIN = 0.25


def _materialise(configurator: Any, config: dict, gen: torch.Generator) -> torch.nn.Module:
    with torch.device("meta"):
        model = configurator.from_config(config)
    model = model.to_empty(device="cpu")
    _init_(model, gen)
    return model


def _prefixed(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in sd.items()}


def _save(path: Path, sd: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().to(torch.bfloat16).contiguous() for k, v in sorted(sd.items())},
              str(path), metadata=metadata)


def _build_main(root: Path, gen: torch.Generator) -> dict[str, torch.Tensor]:
    from ltx_core.model.audio_vae import (AudioDecoderConfigurator, AudioEncoderConfigurator,
                                          VocoderConfigurator)
    from ltx_core.model.transformer import LTXModelConfigurator
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator
    from ltx_core.text_encoders.gemma import EmbeddingsProcessorConfigurator

    cfg = main_config()
    sd: dict[str, torch.Tensor] = {}
    transformer = _materialise(LTXModelConfigurator, cfg, gen)
    with torch.no_grad():
        for name, p in transformer.named_parameters():
            if name.startswith(("proj_out.", "audio_proj_out.")):
                p.mul_(OUTPUT_GAIN)
    sd |= _prefixed(transformer.state_dict(), "model.diffusion_model.")
    decoder = _materialise(VideoDecoderConfigurator, cfg, gen)
    structure_video_decoder_(decoder)
    vdec = decoder.state_dict()
    venc = _materialise(VideoEncoderConfigurator, cfg, gen).state_dict()
    for k, v in vdec.items():
        sd["vae." + k if k.startswith("per_channel_statistics.") else "vae.decoder." + k] = v
    sd |= {"vae.encoder." + k: v for k, v in venc.items() if not k.startswith("per_channel_statistics.")}
    adec = _materialise(AudioDecoderConfigurator, cfg, gen).state_dict()
    aenc = _materialise(AudioEncoderConfigurator, cfg, gen).state_dict()
    for k, v in adec.items():
        sd["audio_vae." + k if k.startswith("per_channel_statistics.") else "audio_vae.decoder." + k] = v
    sd |= {"audio_vae.encoder." + k: v for k, v in aenc.items()
           if not k.startswith("per_channel_statistics.")}
    sd |= _prefixed(_materialise(VocoderConfigurator, cfg, gen).state_dict(), "vocoder.")
    with tiny_gemma_constant():
        proc = _materialise(EmbeddingsProcessorConfigurator, cfg, gen).state_dict()
    for k, v in proc.items():
        if k.startswith("feature_extractor."):
            sd["text_embedding_projection." + k[len("feature_extractor."):]] = v
        elif k.startswith("video_connector."):
            sd["model.diffusion_model.video_embeddings_connector." + k[len("video_connector."):]] = v
        elif k.startswith("audio_connector."):
            sd["model.diffusion_model.audio_embeddings_connector." + k[len("audio_connector."):]] = v
        else:
            raise GenerationError(f"tiny builder: unexpected embeddings-processor key {k}")
    _save(root / MAIN_CHECKPOINT, sd, {"config": json.dumps(cfg, sort_keys=True),
                                       "model_version": MODEL_VERSION})
    return transformer.state_dict()


def _build_lora(root: Path, transformer_sd: dict[str, torch.Tensor], gen: torch.Generator) -> None:
    """A rank-4 LoRA over every 2-D linear weight of the transformer blocks."""
    lora: dict[str, torch.Tensor] = {}
    for key, w in sorted(transformer_sd.items()):
        if key.startswith("transformer_blocks.") and key.endswith(".weight") and w.ndim == 2:
            mod = key[: -len(".weight")]
            lora[f"diffusion_model.{mod}.lora_A.weight"] = torch.randn(LORA_RANK, w.shape[1], generator=gen) / math.sqrt(w.shape[1])
            lora[f"diffusion_model.{mod}.lora_B.weight"] = 0.5 * torch.randn(w.shape[0], LORA_RANK, generator=gen) / math.sqrt(LORA_RANK)
    _save(root / DISTILLED_LORA, lora, {})


def _build_upsampler(root: Path, gen: torch.Generator) -> None:
    from ltx_core.model.upsampler import LatentUpsamplerConfigurator

    cfg = upsampler_config()
    model = _materialise(LatentUpsamplerConfigurator, cfg, gen)
    _save(root / UPSAMPLER, model.state_dict(), {"config": json.dumps(cfg, sort_keys=True)})


_CORPUS_WORDS = ("a red fox runs through snow at dawn ; waves crash on black rocks under storm "
                 "clouds ; a small robot walks across a wooden table ; city lights blur in rain "
                 "at night ; blurry out of focus overexposed low contrast grainy flickering "
                 "camera slowly pans left over green hills and a river , cinematic shot of "
                 "mountains with fog , close up of a cat face , the sun sets behind trees").split()


def _build_tokenizer(gemma: Path) -> None:
    """A SentencePiece BPE tokenizer trained here, saved in Gemma's layout (slow + fast)."""
    import sentencepiece as spm
    from transformers import GemmaTokenizerFast

    kw = gemma_config_kwargs()["top"]
    lines = [" ".join(_CORPUS_WORDS[i:] + _CORPUS_WORDS[:i]) for i in range(len(_CORPUS_WORDS))]
    corpus = gemma / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    specials = ["<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>",
                "<image_soft_token>"]
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(gemma / "tokenizer"), vocab_size=TINY_VOCAB,
        model_type="bpe", pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>",
        eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>", user_defined_symbols=specials,
        num_threads=1, byte_fallback=False, minloglevel=2, character_coverage=1.0,
        hard_vocab_limit=False)
    corpus.unlink()
    (gemma / "tokenizer.vocab").unlink(missing_ok=True)
    sp = spm.SentencePieceProcessor(model_file=str(gemma / "tokenizer.model"))
    ids = {p: sp.piece_to_id(p) for p in specials}
    expected = {"<start_of_image>": kw["boi_token_index"], "<end_of_image>": kw["eoi_token_index"],
                "<image_soft_token>": kw["image_token_index"]}
    if any(ids[p] != i for p, i in expected.items()) or sp.get_piece_size() > TINY_VOCAB:
        raise GenerationError(f"tiny tokenizer ids {ids} (size {sp.get_piece_size()}) do not "
                              f"match the tiny Gemma config {expected}")
    config = {"tokenizer_class": "GemmaTokenizer", "bos_token": "<bos>", "eos_token": "<eos>",
              "pad_token": "<pad>", "unk_token": "<unk>", "add_bos_token": True,
              "add_eos_token": False, "model_max_length": 1024, "padding_side": "left",
              "extra_special_tokens": {"boi_token": "<start_of_image>",
                                       "eoi_token": "<end_of_image>",
                                       "image_token": "<image_soft_token>"}}
    (gemma / "tokenizer_config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    fast = GemmaTokenizerFast(vocab_file=str(gemma / "tokenizer.model"), from_slow=True)
    fast.backend_tokenizer.save(str(gemma / "tokenizer.json"))
    size = gemma_config_kwargs()["vision"]["image_size"]
    (gemma / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "Gemma3ImageProcessor", "processor_class": "Gemma3Processor",
        "do_resize": True, "size": {"height": size, "width": size}, "resample": 2,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "do_convert_rgb": True,
        "do_pan_and_scan": False}, indent=2, sort_keys=True))


def _build_gemma(root: Path, gen: torch.Generator) -> None:
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    gemma = root / GEMMA_DIR
    gemma.mkdir()
    _build_tokenizer(gemma)
    cfg = Gemma3Config.from_dict(tiny_gemma_config().to_dict())
    with torch.device("meta"):
        model = Gemma3ForConditionalGeneration(cfg)
    model = model.to_empty(device="cpu")
    _init_(model, gen)
    sd: dict[str, torch.Tensor] = {}
    for k, v in model.model.state_dict().items():
        if k.startswith("language_model."):
            sd["language_model.model." + k[len("language_model."):]] = v
        elif k.startswith(("vision_tower.", "multi_modal_projector.")):
            sd[k] = v
        else:
            raise GenerationError(f"tiny builder: unexpected Gemma key {k}")
    _save(gemma / "model-00001-of-00001.safetensors", sd, {"format": "pt"})


def verify_coverage(ckpt: TinyCheckpoints) -> None:
    """Build every model through the official ledger and fail if anything stayed on ``meta``."""
    from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps
    from ltx_pipelines.utils import ModelLedger

    with tiny_gemma_constant():
        ledger = ModelLedger(dtype=torch.bfloat16, device=torch.device("cpu"),
                             checkpoint_path=str(ckpt.checkpoint),
                             gemma_root_path=str(ckpt.gemma_root),
                             spatial_upsampler_path=str(ckpt.spatial_upsampler),
                             loras=(LoraPathStrengthAndSDOps(str(ckpt.distilled_lora), 1.0,
                                                             LTXV_LORA_COMFY_RENAMING_MAP),))
        builders = {"transformer": ledger.transformer, "video_decoder": ledger.video_decoder,
                    "video_encoder": ledger.video_encoder, "audio_decoder": ledger.audio_decoder,
                    "audio_encoder": ledger.audio_encoder, "vocoder": ledger.vocoder,
                    "embeddings_processor": ledger.gemma_embeddings_processor,
                    "text_encoder": ledger.text_encoder, "spatial_upsampler": ledger.spatial_upsampler}
        for name, build in builders.items():
            try:
                model = build()
            except NotImplementedError as exc:  # the ledger's .to() on a half-meta model
                raise GenerationError(f"tiny checkpoint leaves tensors of {name} unloaded "
                                      f"({exc}); the key prefixes are wrong") from exc
            missing = [n for n, t in [*model.named_parameters(), *model.named_buffers()]
                       if t.device.type == "meta"]
            if missing:
                raise GenerationError(f"tiny checkpoint leaves {len(missing)} tensors of {name} "
                                      f"unloaded (e.g. {missing[:3]}); the key prefixes are wrong")
            del model


def build_tiny(seed: int = 0, *, root: Path | None = None, verify: bool = True) -> TinyCheckpoints:
    """Return the tiny family for ``seed``, building it (atomically) if it is not cached."""
    key = cache_key(seed)
    final = (root or cache_root() / "tiny") / key
    ckpt = TinyCheckpoints(root=final, checkpoint=final / MAIN_CHECKPOINT,
                           spatial_upsampler=final / UPSAMPLER, distilled_lora=final / DISTILLED_LORA,
                           gemma_root=final / GEMMA_DIR, key=key)
    if (final / "files.json").is_file():
        return ckpt
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        gen = torch.Generator().manual_seed(seed)
        transformer_sd = _build_main(tmp, gen)
        _build_lora(tmp, transformer_sd, gen)
        _build_upsampler(tmp, gen)
        _build_gemma(tmp, gen)
        tmp_ckpt = TinyCheckpoints(root=tmp, checkpoint=tmp / MAIN_CHECKPOINT,
                                   spatial_upsampler=tmp / UPSAMPLER, distilled_lora=tmp / DISTILLED_LORA,
                                   gemma_root=tmp / GEMMA_DIR, key=key)
        if verify:
            verify_coverage(tmp_ckpt)
        listing = {str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in tmp_ckpt.files()}
        (tmp / "files.json").write_text(json.dumps(listing, indent=2, sort_keys=True))
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "files.json").is_file():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ckpt
