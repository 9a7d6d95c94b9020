"""What a diffusers case may say beyond the common request: the typed ``[case.request.<family>]``.

Why a table per family: each family's pipeline takes its own arguments (Qwen-Image's
``true_cfg_scale``, FLUX's embedded ``guidance_scale``, the layered pipeline's layer count,
input images). Writing them as loose keys would let a typo reach a GPU job as a silently
ignored argument; here every key is known for its family, typed, range-checked, and the table
must match the pipeline (``[case.request.flux]`` on a ``QwenImagePipeline`` case is an error).
Input images are pinned by sha256 like the LTX conditioning image: a local file under the case
file's folder, or sglang's URL (unpinned until a copy is pinned: generation fails closed).

Pure Python, no torch: the case registry imports this module through one hook
(:func:`parse_family_request`, :func:`check_case`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gt_gen.errors import ConfigError
from gt_gen.assets.case_inputs import input_url_problem

#: diffusers pipeline class -> family (the name of its ``[case.request.<family>]`` table).
PIPELINE_FAMILY: dict[str, str] = {
    "WanPipeline": "wan",
    "FluxPipeline": "flux",
    "Flux2Pipeline": "flux2",
    "Flux2KleinPipeline": "flux2",
    "QwenImagePipeline": "qwen_image",
    "QwenImageEditPipeline": "qwen_image",
    "QwenImageEditPlusPipeline": "qwen_image",
    "QwenImageLayeredPipeline": "qwen_image",
    "ZImagePipeline": "zimage",
}
FAMILIES = tuple(sorted(set(PIPELINE_FAMILY.values())))
DIFFUSERS_PIPELINES = tuple(PIPELINE_FAMILY)
#: Input images a pipeline takes: (fewest, most or None for no limit); others take none.
IMAGE_INPUTS: dict[str, tuple[int, int | None]] = {
    "QwenImageEditPipeline": (1, 1), "QwenImageEditPlusPipeline": (1, None),
    "QwenImageLayeredPipeline": (1, 1), "Flux2Pipeline": (0, None),
    "Flux2KleinPipeline": (0, None)}
#: Spatial multiple of the output size (VAE factor 8 x latent packing 2).
SIZE_MULTIPLE = 16
IMAGE_MODES = ("RGB", "RGBA")
GENERATOR_DEVICES = ("run", "cpu")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

#: Keys each family's table accepts (beyond ``generator_device`` and ``max_sequence_length``).
FAMILY_KEYS: dict[str, set[str]] = {
    "wan": {"guidance_scale"},
    "flux": {"guidance_scale"},
    "flux2": {"guidance_scale", "images", "size_from_input"},
    "qwen_image": {"true_cfg_scale", "images", "size_from_input", "num_layers", "resolution",
                   "cfg_normalize", "use_en_prompt"},
    "zimage": {"guidance_scale"},
}
_COMMON_KEYS = {"generator_device", "max_sequence_length"}
_IMAGE_KEYS = {"path", "url", "sha256", "mode"}


@dataclass(frozen=True)
class InputImage:
    """One input image: ``path`` (relative to the case file) pinned by ``sha256``, or sglang's
    ``url`` (``sha256`` empty until a local copy is pinned); ``mode`` as the pipeline gets it."""

    path: str = ""
    url: str = ""
    sha256: str = ""
    mode: str = "RGB"


@dataclass(frozen=True)
class FamilyRequest:
    """The ``[case.request.<family>]`` table of a diffusers case (None: the pipeline default)."""

    family: str
    guidance_scale: float | None = None
    true_cfg_scale: float | None = None
    num_layers: int | None = None
    resolution: int | None = None
    cfg_normalize: bool | None = None
    use_en_prompt: bool | None = None
    max_sequence_length: int | None = None
    #: ``run``: the generator lives on the run's device (sglang's GT: ``--generator-device cuda``).
    generator_device: str = "run"
    #: Output size from the last input image as sglang's GT script derives it (width x height
    #: of the request is then the target area), not the request's width and height.
    size_from_input: bool = False
    images: tuple[InputImage, ...] = ()


def _get(table: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str,
         path: Path) -> Any:
    value = table[key]
    types = typ if isinstance(typ, tuple) else (typ,)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{where}.{key} must be {types[0].__name__}, got a boolean", path=path)
    if not isinstance(value, types):
        raise ConfigError(f"{where}.{key} must be {types[0].__name__}, got "
                          f"{type(value).__name__}", path=path)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}.{key} must be a finite number", path=path)
    return value


def _number(table: dict[str, Any], key: str, where: str, path: Path, lo: float,
            hi: float) -> float | None:
    if key not in table:
        return None
    value = float(_get(table, key, (int, float), where, path))
    if not lo <= value <= hi:
        raise ConfigError(f"{where}.{key} must be in [{lo:g}, {hi:g}], got {value:g}", path=path)
    return value


def _integer(table: dict[str, Any], key: str, where: str, path: Path, lo: int,
             hi: int) -> int | None:
    if key not in table:
        return None
    value = _get(table, key, int, where, path)
    if not lo <= value <= hi:
        raise ConfigError(f"{where}.{key} must be in [{lo}, {hi}], got {value}", path=path)
    return int(value)


def _image(raw: Any, where: str, path: Path) -> InputImage:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table {{path = ..., sha256 = ...}}", path=path)
    unknown = sorted(set(raw) - _IMAGE_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(_IMAGE_KEYS)}",
                          path=path)
    vals = {k: _get(raw, k, str, where, path) for k in raw}
    img = InputImage(path=vals.get("path", ""), url=vals.get("url", ""),
                     sha256=vals.get("sha256", ""), mode=vals.get("mode", "RGB"))
    if not img.path and not img.url:
        raise ConfigError(f"{where} needs a path (pinned by sha256) or sglang's url", path=path)
    if img.url and (why := input_url_problem(img.url)):
        raise ConfigError(f"{where}.url {why}", path=path)
    if img.path and not img.sha256:
        raise ConfigError(f"{where}: a local image is pinned: sha256 is required", path=path)
    if img.sha256 and not _SHA_RE.match(img.sha256):
        raise ConfigError(f"{where}.sha256 must be 64 lowercase hex digits", path=path)
    if img.path and (Path(img.path).is_absolute() or ".." in Path(img.path).parts):
        raise ConfigError(f"{where}.path must be relative to the case file, inside its folder",
                          path=path)
    if img.mode not in IMAGE_MODES:
        raise ConfigError(f"{where}.mode must be one of {list(IMAGE_MODES)}", path=path)
    return img


def parse_family_request(raw: dict[str, Any], where: str, path: Path) -> FamilyRequest | None:
    """The family table found in a ``[case.request]`` table (at most one), validated."""
    found = [k for k in FAMILIES if k in raw]
    if not found:
        return None
    if len(found) > 1:
        raise ConfigError(f"{where} has several family tables {found}; a case has one",
                          path=path)
    family = found[0]
    table, w = raw[family], f"{where}.{family}"
    if not isinstance(table, dict):
        raise ConfigError(f"{w} must be a table", path=path)
    allowed = FAMILY_KEYS[family] | _COMMON_KEYS
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {w}; allowed for {family}: "
                          f"{sorted(allowed)}", path=path)
    images_raw = table.get("images", [])
    if not isinstance(images_raw, list):
        raise ConfigError(f"{w}.images must be an array of tables ([[...images]])", path=path)
    device = _get(table, "generator_device", str, w, path) if "generator_device" in table else "run"
    if device not in GENERATOR_DEVICES:
        raise ConfigError(f"{w}.generator_device must be one of {list(GENERATOR_DEVICES)}",
                          path=path)
    resolution = _integer(table, "resolution", w, path, 1, 4096)
    if resolution is not None and resolution not in (640, 1024):
        raise ConfigError(f"{w}.resolution must be 640 or 1024 (the layered pipeline's buckets)",
                          path=path)
    flags = {k: _get(table, k, bool, w, path) if k in table else None
             for k in ("cfg_normalize", "use_en_prompt")}
    return FamilyRequest(
        family=family, guidance_scale=_number(table, "guidance_scale", w, path, 0.0, 100.0),
        true_cfg_scale=_number(table, "true_cfg_scale", w, path, 0.0, 100.0),
        num_layers=_integer(table, "num_layers", w, path, 1, 64), resolution=resolution,
        max_sequence_length=_integer(table, "max_sequence_length", w, path, 1, 4096),
        generator_device=device,
        size_from_input=bool(_get(table, "size_from_input", bool, w, path)
                             if "size_from_input" in table else False),
        images=tuple(_image(x, f"{w}.images[{i}]", path) for i, x in enumerate(images_raw)),
        **flags)


def check_case(case: Any, path: Path) -> None:
    """A diffusers case must name a known pipeline with its family table and sane inputs."""
    where = f"case {case.id!r}"
    fam: FamilyRequest | None = case.request.family
    if case.backend != "diffusers":
        if fam is not None:
            raise ConfigError(f"{where}: [case.request.{fam.family}] belongs to backend "
                              f"'diffusers', not {case.backend!r}", path=path)
        return
    pipeline = case.pipeline
    if pipeline not in PIPELINE_FAMILY:
        raise ConfigError(f"{where}: pipeline {pipeline!r} is not a diffusers pipeline gt-gen "
                          f"runs; known: {sorted(PIPELINE_FAMILY)}", path=path)
    family = PIPELINE_FAMILY[pipeline]
    if fam is None or fam.family != family:
        raise ConfigError(f"{where}: a {pipeline} case needs a [case.request.{family}] table",
                          path=path)
    if not case.implementation.strip():
        raise ConfigError(f"{where}: a diffusers case says which implementation makes its GT "
                          "(implementation = \"...\")", path=path)
    if (case.modality == "video") != (family == "wan"):
        raise ConfigError(f"{where}: {pipeline} makes {'videos' if family == 'wan' else 'images'}"
                          f", not modality {case.modality!r}", path=path)
    req = case.request
    if req.image is not None:
        raise ConfigError(f"{where}: diffusers input images go in "
                          f"[[case.request.{family}.images]], not request.image", path=path)
    if req.width % SIZE_MULTIPLE or req.height % SIZE_MULTIPLE:
        raise ConfigError(f"{where}: {req.width}x{req.height} is not a multiple of "
                          f"{SIZE_MULTIPLE} as {pipeline} needs", path=path)
    if family == "wan" and (req.num_frames - 1) % 4:
        raise ConfigError(f"{where}: num_frames={req.num_frames} is not 4k+1 as WanPipeline "
                          "needs (it would change it silently)", path=path)
    lo, hi = IMAGE_INPUTS.get(pipeline, (0, 0))
    n = len(fam.images)
    if n < lo or (hi is not None and n > hi):
        count = f"{lo} to {hi}" if hi is not None and hi != lo else (str(lo) if hi == lo
                                                                      else f"at least {lo}")
        raise ConfigError(f"{where}: {pipeline} takes {count} input image(s), the case has {n}",
                          path=path)
    if fam.size_from_input and not fam.images:
        raise ConfigError(f"{where}: size_from_input needs input images", path=path)
    layered = pipeline == "QwenImageLayeredPipeline"
    for key in ("num_layers", "resolution", "cfg_normalize", "use_en_prompt"):
        if getattr(fam, key) is not None and not layered:
            raise ConfigError(f"{where}: {key} applies to QwenImageLayeredPipeline only",
                              path=path)
    if layered and any(img.mode != "RGBA" for img in fam.images):
        raise ConfigError(f"{where}: the layered pipeline takes its input image as RGBA "
                          "(mode = \"RGBA\"), as sglang's GT script loads it", path=path)
