"""Write diffusers LTX-2 component folders from an official checkpoint family.

Output layout (loadable with ``LTX2Pipeline.from_pretrained(DIR)``)::

    DIR/model_index.json
    DIR/{transformer,connectors,vae,audio_vae,vocoder}/config.json + diffusion_pytorch_model.safetensors
    DIR/text_encoder/  DIR/tokenizer/  DIR/scheduler/scheduler_config.json
    DIR/latent_upsampler/   (when a spatial upsampler is given)
    DIR/lora/pytorch_lora_weights.safetensors  (the distilled LoRA, diffusers key names)
    DIR/key_table.json      (every official tensor -> component/key, what was dropped, sources)

Tensors keep their stored dtype (bf16 for the official files): loading with ``torch_dtype``
float32 upcasts exactly, so fp32 diffusers runs see the same numbers as fp32 official runs.
Models are instantiated on ``meta`` only to learn their expected tensor names and shapes, so a
19B checkpoint converts without materialising a model. The folder appears atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gt_gen.convert import ltx2_configs as cfgs
from gt_gen.convert.ltx2_keys import build_table, check_coverage, lora_key
from gt_gen.errors import ConfigError, MissingFileError

#: Bump when the output of the converter changes (it keys the conversion cache).
CONVERTER_VERSION = "2"
COMPONENTS = {
    "transformer": ("diffusers", "LTX2VideoTransformer3DModel"),
    "connectors": ("ltx2", "LTX2TextConnectors"),
    "vae": ("diffusers", "AutoencoderKLLTX2Video"),
    "audio_vae": ("diffusers", "AutoencoderKLLTX2Audio"),
    "vocoder": ("ltx2", "LTX2Vocoder"),
}


@dataclass(frozen=True)
class ConvertedLTX2:
    """A converted folder and what is in it."""

    root: Path
    has_upsampler: bool
    has_lora: bool
    tensors: int  # official tensors mapped


def _model_class(component: str) -> Any:
    import diffusers
    from diffusers.pipelines.ltx2 import connectors, vocoder

    name = COMPONENTS.get(component, ("diffusers", "LTX2LatentUpsamplerModel"))[1]
    for mod in (diffusers, connectors, vocoder):
        if hasattr(mod, name):
            return getattr(mod, name)
    from diffusers.pipelines.ltx2 import latent_upsampler

    return getattr(latent_upsampler, name)


def _expected_shapes(cls: Any, config: dict[str, Any]) -> tuple[Any, dict[str, tuple[int, ...]]]:
    """Build ``cls`` on meta; return (the unsaved config object, its state-dict shapes)."""
    with torch.device("meta"):
        model = cls.from_config(config)
    return model, {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _read_header(path: Path) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    from safetensors import safe_open

    if not path.is_file():
        raise MissingFileError(f"gt-gen convert: {path} not found", path=path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    return meta, shapes


def _config_of(path: Path, meta: dict[str, str]) -> dict[str, Any]:
    try:
        return json.loads(meta["config"])
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"gt-gen convert: {path.name} has no readable 'config' in its "
                          "safetensors metadata (not an official LTX-2 checkpoint?)",
                          path=path) from exc


def _write_component(out: Path, component: str, cls: Any, config: dict[str, Any],
                     source: Path, mapping: dict[str, str],
                     shapes: dict[str, tuple[int, ...]],
                     unused_prefixes: tuple[str, ...] = ()) -> int:
    """Check coverage, then write ``config.json`` and the renamed tensors (unread tensors that
    no official tensor feeds are written as zeros, so diffusers loads without a warning)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    model, expected = _expected_shapes(cls, config)
    check_coverage(component, mapping, shapes, expected, unused_prefixes)
    folder = out / component
    folder.mkdir(parents=True)
    model.save_config(str(folder))
    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(source), framework="pt") as f:
        for new, old in mapping.items():
            tensors[new] = f.get_tensor(old).contiguous()
    for key, shape in expected.items():
        if key not in tensors and unused_prefixes and key.startswith(unused_prefixes):
            tensors[key] = torch.zeros(shape)
    save_file(tensors, str(folder / "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
    return len(tensors)


def gemma_hf_config(gemma_root: Path) -> dict[str, Any]:
    """The Gemma-3 config the official code uses: the root's ``config.json``, else ltx-core's
    constant (swapped for the tiny one by the caller, inside ``tiny_gemma_constant``)."""
    if (gemma_root / "config.json").is_file():
        from gt_gen.jsonio import load_file

        data = load_file(gemma_root / "config.json")
        if not isinstance(data, dict):
            raise ConfigError("gemma config.json is not an object", path=gemma_root / "config.json")
        return data
    from ltx_core.text_encoders.gemma import config as gcfg

    return gcfg.GEMMA3_CONFIG_FOR_LTX.to_dict()


def _gemma_key(name: str) -> str:
    for old, new in (("language_model.model.", "model.language_model."),
                     ("vision_tower.", "model.vision_tower."),
                     ("multi_modal_projector.", "model.multi_modal_projector."),
                     ("language_model.lm_head.", "lm_head.")):
        if name.startswith(old):
            return new + name[len(old):]
    return name


def _write_text_encoder(out: Path, gemma_root: Path, hf_cfg: dict[str, Any]) -> None:
    """Tokenizer + Gemma3ForConditionalGeneration with transformers' own key names."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, GemmaTokenizerFast

    tok = GemmaTokenizerFast.from_pretrained(str(gemma_root))
    tok.save_pretrained(str(out / "tokenizer"))
    config = Gemma3Config.from_dict(hf_cfg)
    with torch.device("meta"):
        model = Gemma3ForConditionalGeneration(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    files = sorted(gemma_root.rglob("*.safetensors"))
    if not files:
        raise MissingFileError(f"gt-gen convert: no safetensors under the Gemma root {gemma_root}",
                               path=gemma_root)
    tensors: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for k in f.keys():
                new = _gemma_key(k)
                if new in tensors:
                    raise ConfigError(f"gt-gen convert: Gemma tensor {k} appears twice", path=path)
                tensors[new] = f.get_tensor(k).contiguous()
                origin[new] = k
                shapes[k] = tuple(tensors[new].shape)
    tied = getattr(config.get_text_config(), "tie_word_embeddings", True) or config.tie_word_embeddings
    if tied and "lm_head.weight" not in tensors:
        expected.pop("lm_head.weight", None)
    check_coverage("text_encoder", origin, shapes, expected)
    folder = out / "text_encoder"
    folder.mkdir(parents=True)
    config.save_pretrained(str(folder))
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A temporary sibling of ``out`` that replaces it only when everything was written."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"gt-gen convert: {out} exists and is not empty", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def convert_ltx2(checkpoint: Path, gemma_root: Path, out: Path, *,
                 spatial_upsampler: Path | None = None, distilled_lora: Path | None = None,
                 hash_sources: bool = True) -> ConvertedLTX2:
    """Convert one official LTX-2 family into diffusers folders under ``out`` (atomically).

    For gt-gen's tiny family call it inside ``tiny_gemma_constant()`` (the Gemma config comes
    from ltx-core's constant when the Gemma root has no ``config.json``)."""
    meta, shapes = _read_header(checkpoint)
    config = _config_of(checkpoint, meta)
    t_cfg = config.get("transformer", {})
    layout = cfgs.vae_layout(config.get("vae", {}))
    table = build_table(shapes, encoder_keys=layout.encoder_keys, decoder_keys=layout.decoder_keys)
    if table.unmapped:
        raise ConfigError(f"gt-gen convert: {len(table.unmapped)} official tensors match no rule "
                          f"of the key table: {', '.join(table.unmapped[:10])}", path=checkpoint)
    hf_cfg = gemma_hf_config(gemma_root)
    text = hf_cfg.get("text_config", hf_cfg)
    audio = config.get("audio_vae", {})
    mel = audio.get("model", {}).get("params", {}).get("ddconfig", {}).get("mel_bins", 64)
    comp_cfg = {
        "transformer": cfgs.transformer_config(t_cfg, audio),
        "connectors": cfgs.connectors_config(t_cfg, int(text["hidden_size"]),
                                             int(text["num_hidden_layers"])),
        "vae": layout.config,
        "audio_vae": cfgs.audio_vae_config(audio),
        "vocoder": cfgs.vocoder_config(config.get("vocoder", {}), int(mel)),
    }
    by_comp = table.by_component()
    written = 0
    with _staging(out) as tmp:
        for comp in COMPONENTS:
            written += _write_component(tmp, comp, _model_class(comp), comp_cfg[comp], checkpoint,
                                        by_comp.get(comp, {}), shapes,
                                        layout.unused_prefixes if comp == "vae" else ())
        _write_text_encoder(tmp, gemma_root, hf_cfg)
        (tmp / "scheduler").mkdir()
        (tmp / "scheduler" / "scheduler_config.json").write_text(
            json.dumps(cfgs.scheduler_config(), indent=2, sort_keys=True))
        sources: dict[str, Any] = {"checkpoint": checkpoint.name}
        rows = [{"official": o, "component": c, "diffusers": k} for o, c, k in table.rows]
        if spatial_upsampler is not None:
            up_meta, up_shapes = _read_header(spatial_upsampler)
            up_cfg = cfgs.upsampler_config(_config_of(spatial_upsampler, up_meta))
            written += _write_component(tmp, "latent_upsampler", _model_class("latent_upsampler"),
                                        up_cfg, spatial_upsampler, {k: k for k in up_shapes},
                                        up_shapes)
            sources["spatial_upsampler"] = spatial_upsampler.name
            rows += [{"official": f"{spatial_upsampler.name}:{k}", "component": "latent_upsampler",
                      "diffusers": k} for k in sorted(up_shapes)]
        if distilled_lora is not None:
            rows += [{"official": f"{distilled_lora.name}:{o}", "component": "lora", "diffusers": k}
                     for o, k in _write_lora(tmp, distilled_lora, comp_cfg["transformer"])]
            sources["distilled_lora"] = distilled_lora.name
        if hash_sources:
            sources["sha256"] = {p.name: _sha256(p) for p in
                                 (checkpoint, spatial_upsampler, distilled_lora) if p is not None}
        index = {"_class_name": "LTX2Pipeline", "_diffusers_version": _diffusers_version(),
                 **{c: list(COMPONENTS[c]) for c in COMPONENTS},
                 "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                 "text_encoder": ["transformers", "Gemma3ForConditionalGeneration"],
                 "tokenizer": ["transformers", "GemmaTokenizerFast"], "processor": [None, None]}
        (tmp / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True))
        (tmp / "key_table.json").write_text(json.dumps({
            "schema_version": 1, "converter_version": CONVERTER_VERSION, "sources": sources,
            "mapped": rows,
            "dropped": table.dropped}, indent=1, sort_keys=True))
    return ConvertedLTX2(root=out, has_upsampler=spatial_upsampler is not None,
                         has_lora=distilled_lora is not None, tensors=written)


def _diffusers_version() -> str:
    from importlib.metadata import version

    return version("diffusers")


def _write_lora(out: Path, lora: Path, transformer_cfg: dict[str, Any]) -> list[tuple[str, str]]:
    """The distilled LoRA with diffusers (PEFT) key names, each target checked to exist."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    _, expected = _expected_shapes(_model_class("transformer"), transformer_cfg)
    modules = {k.rsplit(".", 1)[0] for k in expected}
    tensors: dict[str, torch.Tensor] = {}
    bad: list[str] = []
    pairs: list[tuple[str, str]] = []
    with safe_open(str(lora), framework="pt") as f:
        for k in sorted(f.keys()):
            new = lora_key(k)
            if new is None or new[len("transformer."):].rsplit(".", 2)[0] not in modules:
                bad.append(k)
                continue
            tensors[new] = f.get_tensor(k).contiguous()
            pairs.append((k, new))
    if bad or not tensors:
        raise ConfigError(f"gt-gen convert: {len(bad)} LoRA tensors target no transformer module "
                          f"({', '.join(bad[:6])})", path=lora)
    (out / "lora").mkdir()
    save_file(tensors, str(out / "lora" / "pytorch_lora_weights.safetensors"), metadata={"format": "pt"})
    return pairs
