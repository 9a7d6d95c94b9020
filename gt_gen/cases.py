"""The case registry: ``cases/<group>.toml`` loaded into frozen dataclasses.

Why frozen dataclasses and strict validation: a case file is the contract between the GT
generator, the ci-data store and the engine's CI. A typo in a key must fail loudly with
the file and field named, never silently fall back to a default that changes the GT.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gt_gen.assets import ASSETS_DIRNAME
from gt_gen.assets.case_inputs import input_url_problem, url_inputs
from gt_gen.assets.lock import Lock, Pin, read_lock
from gt_gen.data_paths import data_dir
from gt_gen.errors import ConfigError, UnknownCaseError
from gt_gen.generate.backends.diffusers.spec import (DIFFUSERS_PIPELINES, FAMILIES,
                                                     check_case, parse_family_request)
from gt_gen.sglang_case import SglangSpec, check_against_case, parse_sglang

CASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MODALITIES = ("image", "video")
COMPARABILITY = ("official", "native_only", "not_comparable")
#: Backends that run the official Lightricks code; their requests must obey its constraints.
OFFICIAL_BACKENDS = ("ltx_official", "diffusers")
BACKENDS = (*OFFICIAL_BACKENDS, "sglang_native")
#: ``native``: the pipeline the case's ``[case.sglang.server_args]`` select (sglang-native cases).
PIPELINES = ("one_stage", "two_stage", "two_stage_hq", "distilled", "native",
             *DIFFUSERS_PIPELINES)
#: Spatial divisor the official pipeline needs (two-stage pipelines upsample ×2 from half size).
SIZE_DIVISOR = {"one_stage": 32, "two_stage": 64, "two_stage_hq": 64, "distilled": 64}
KEY_FRAMES = ("first", "mid", "last")
#: GT numerics (case property ``precision``).
PRECISIONS = ("bf16", "fp32")
#: The implementation each backend's GT comes from, named as sglang's ci-data ``case_map.json``
#: names it in an entry's ``source`` (sgl-project/ci-data-diffusion official_generated/case_map.json:
#: ``diffusers`` for gen_official_diffusion_gt.py's diffusers pipelines, ``ltx_official_repo`` for
#: gen_official_ltx23.py's ltx-pipelines). ``publish`` records it; ``fetch``/``compare`` read it back.
BACKEND_GT_SOURCE = {"ltx_official": "ltx_official_repo", "diffusers": "diffusers",
                     "sglang_native": "sglang"}
#: An implementation name: a word, not a sentence and never a path.
GT_SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
GUIDANCE_KEYS = {"cfg_scale", "stg_scale", "rescale_scale", "modality_scale", "stg_blocks",
                 "skip_step", "audio_cfg_scale", "audio_stg_scale", "audio_rescale_scale",
                 "audio_modality_scale", "audio_stg_blocks", "audio_skip_step"}

DEFAULT_CASES_DIR = data_dir("cases")  # the checkout's cases/, or the copy inside the wheel


@dataclass(frozen=True)
class ConditioningImage:
    """An image that conditions a video at ``frame`` (pinned by sha256, relative to the case file).

    ``url``: where the image comes from when sglang's CI sends it by URL; until a local copy is
    pinned (``sha256`` empty), anything that needs the bytes fails closed."""

    path: str
    sha256: str
    frame: int = 0
    strength: float = 1.0
    crf: int = 33
    url: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """Where the weights come from: a hub repo at a pinned revision, or the tiny builder."""

    repo: str
    revision: str
    checkpoint: str
    text_encoder_repo: str = ""
    text_encoder_revision: str = ""
    spatial_upsampler: str = ""
    distilled_lora: str = ""
    distilled_lora_strength: float = 1.0
    distilled_lora_strength_stage_2: float | None = None

    @property
    def is_tiny(self) -> bool:
        """Tiny models are built offline by :mod:`gt_gen.generate.tiny`, never downloaded."""
        return self.repo == "tiny"


@dataclass(frozen=True)
class Request:
    """The generation request, as both the official pipeline and the engine's API receive it."""

    prompt: str
    width: int
    height: int
    seed: int
    negative_prompt: str = ""
    num_frames: int = 1
    fps: float = 24.0
    steps: int = 30
    image: ConditioningImage | None = None
    guidance: dict[str, Any] = field(default_factory=dict)
    #: ``[case.request.<family>]`` of a diffusers case (gt_gen.generate.backends.diffusers.spec).
    family: Any = None


@dataclass(frozen=True)
class Case:
    """One consistency case: what to generate, with what, and how to compare it."""

    id: str
    group: str
    modality: str
    backend: str
    pipeline: str
    model: ModelSpec
    request: Request
    gpus: int
    runner: str
    comparability: str
    reason: str = ""
    key_frames: tuple[str, ...] = KEY_FRAMES
    estimated_minutes: float = 10.0
    source: str = ""
    #: How sglang's CI launches the server and what its test client sends (gt_gen.sglang_case).
    sglang: SglangSpec | None = None
    #: Numerics of the official GT run: "bf16" (the pipelines' own) or "fp32" (a runtime override,
    #: gt_gen.trace.official_hooks.official_precision); recorded in the manifest.
    precision: str = "bf16"
    #: Which official implementation makes the GT (diffusers cases; recorded in the manifest).
    implementation: str = ""
    #: url -> pinned local copy, for the inputs known only by sglang's URL: read from the
    #: assets lock beside the case files (gt_gen.assets; empty until `gt-gen assets pin`).
    input_pins: dict[str, Pin] = field(default_factory=dict, compare=False)
    #: The implementation sglang's own official GT of this case comes from, in the words of its
    #: case_map ``source`` (e.g. ``wan2.1_official_repo``); empty: the one gt-gen runs
    #: (:attr:`gt_source`). ``publish`` reads an unmarked ci-data entry as made by it.
    sglang_gt_source: str = ""

    @property
    def gt_source(self) -> str:
        """The implementation gt-gen's GT of this case comes from (:data:`BACKEND_GT_SOURCE`)."""
        return BACKEND_GT_SOURCE[self.backend]

    @property
    def sglang_gt(self) -> str:
        """The implementation sglang's own official GT of this case comes from."""
        return self.sglang_gt_source or self.gt_source

    @property
    def is_official(self) -> bool:
        """True when official GT may be used for this case (request semantics match)."""
        return self.comparability == "official" and self.backend in OFFICIAL_BACKENDS


_CASE_KEYS = {"id", "modality", "backend", "pipeline", "model", "request", "gpus", "runner",
              "comparability", "reason", "key_frames", "estimated_minutes", "sglang",
              "precision", "implementation", "sglang_gt_source"}
_MODEL_KEYS = {"repo", "revision", "checkpoint", "text_encoder_repo", "text_encoder_revision",
               "spatial_upsampler", "distilled_lora", "distilled_lora_strength",
               "distilled_lora_strength_stage_2"}
_REQUEST_KEYS = {"prompt", "negative_prompt", "width", "height", "num_frames", "fps", "steps",
                 "seed", "image", "guidance", *FAMILIES}
_IMAGE_KEYS = {"path", "sha256", "frame", "strength", "crf", "url"}


def _check_keys(table: dict[str, Any], allowed: set[str], where: str, path: Path) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}",
                          path=path)


def _typed(table: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str,
           path: Path, default: Any = ..., ) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"missing required field {where}.{key}", path=path)
        return default
    value = table[key]
    # bool is an int subclass; a `true` where a number belongs is a typo.
    if isinstance(value, bool) and bool not in (typ if isinstance(typ, tuple) else (typ,)):
        raise ConfigError(f"{where}.{key} must be {typ}, got a boolean", path=path)
    if not isinstance(value, typ):
        raise ConfigError(f"{where}.{key} must be {getattr(typ, '__name__', typ)}, "
                          f"got {type(value).__name__}", path=path)
    # TOML has nan and inf: no request, strength or estimate may be one.
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}.{key} must be a finite number, got {value}", path=path)
    return value


#: Largest sane values (a typo such as 10**9 frames must fail here, not after a day of GPU time).
LIMITS = {"width": 16384, "height": 16384, "num_frames": 10_000, "steps": 10_000, "fps": 1000.0}


def _check_guidance(guidance: dict[str, Any], where: str, path: Path) -> None:
    """Guidance values are finite numbers, or lists of integers (block and step indices)."""
    for k, v in guidance.items():
        vals = v if isinstance(v, list) else [v]
        for x in vals:
            if isinstance(x, bool) or not isinstance(x, int | float) or (
                    isinstance(v, list) and not isinstance(x, int)):
                raise ConfigError(f"{where}.{k} must be a number or a list of integers, got "
                                  f"{type(x).__name__}", path=path)
            if not math.isfinite(x) or abs(x) > 1e6:
                raise ConfigError(f"{where}.{k} must be a finite number of at most 1e6, got {x}",
                                  path=path)


def validate_case_id(case_id: str, *, path: str | Path | None = None) -> str:
    """Refuse ids that could escape a directory or break sglang's file naming."""
    if not isinstance(case_id, str) or not CASE_ID_RE.match(case_id) or ".." in case_id:
        raise ConfigError(f"invalid case id {case_id!r}: use letters, digits, '.', '_' and '-' "
                          "only, not starting with '.' and without '..'", path=path)
    return case_id


def _parse_model(raw: Any, where: str, path: Path) -> ModelSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}.model must be a table", path=path)
    _check_keys(raw, _MODEL_KEYS, f"{where}.model", path)
    w = f"{where}.model"
    strength2 = raw.get("distilled_lora_strength_stage_2")
    return ModelSpec(
        repo=_typed(raw, "repo", str, w, path),
        revision=_typed(raw, "revision", str, w, path),
        checkpoint=_typed(raw, "checkpoint", str, w, path, ""),
        text_encoder_repo=_typed(raw, "text_encoder_repo", str, w, path, ""),
        text_encoder_revision=_typed(raw, "text_encoder_revision", str, w, path, ""),
        spatial_upsampler=_typed(raw, "spatial_upsampler", str, w, path, ""),
        distilled_lora=_typed(raw, "distilled_lora", str, w, path, ""),
        distilled_lora_strength=float(_typed(raw, "distilled_lora_strength", (int, float), w,
                                             path, 1.0)),
        distilled_lora_strength_stage_2=(None if strength2 is None else float(
            _typed(raw, "distilled_lora_strength_stage_2", (int, float), w, path))),
    )


def _parse_request(raw: Any, where: str, path: Path) -> Request:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}.request must be a table", path=path)
    w = f"{where}.request"
    _check_keys(raw, _REQUEST_KEYS, w, path)
    image = None
    if "image" in raw:
        img = raw["image"]
        if not isinstance(img, dict):
            raise ConfigError(f"{w}.image must be a table", path=path)
        _check_keys(img, _IMAGE_KEYS, f"{w}.image", path)
        url = _typed(img, "url", str, f"{w}.image", path, "")
        if url and (why := input_url_problem(url)):
            raise ConfigError(f"{w}.image.url {why}", path=path)
        # A URL-only image (sglang's CI input) may stay unpinned until a local copy is pinned.
        sha = _typed(img, "sha256", str, f"{w}.image", path, "" if url else ...)
        if (sha or not url) and not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ConfigError(f"{w}.image.sha256 must be 64 lowercase hex digits", path=path)
        if img.get("path") and not sha:  # a path nobody pinned would be silently ignored
            raise ConfigError(f"{w}.image.path needs its sha256; an image known by sglang's url "
                              "alone is pinned with `gt-gen assets pin` (cases/assets/"
                              "assets.lock.json), not by a path here", path=path)
        image = ConditioningImage(
            path=_typed(img, "path", str, f"{w}.image", path, "" if url else ...), sha256=sha,
            frame=_typed(img, "frame", int, f"{w}.image", path, 0),
            strength=float(_typed(img, "strength", (int, float), f"{w}.image", path, 1.0)),
            crf=_typed(img, "crf", int, f"{w}.image", path, 33), url=url)
    guidance = raw.get("guidance", {})
    if not isinstance(guidance, dict):
        raise ConfigError(f"{w}.guidance must be a table", path=path)
    _check_keys(guidance, GUIDANCE_KEYS, f"{w}.guidance", path)
    req = Request(
        prompt=_typed(raw, "prompt", str, w, path),
        negative_prompt=_typed(raw, "negative_prompt", str, w, path, ""),
        width=_typed(raw, "width", int, w, path), height=_typed(raw, "height", int, w, path),
        num_frames=_typed(raw, "num_frames", int, w, path, 1),
        fps=float(_typed(raw, "fps", (int, float), w, path, 24.0)),
        steps=_typed(raw, "steps", int, w, path, 30), seed=_typed(raw, "seed", int, w, path),
        image=image, guidance=dict(guidance), family=parse_family_request(raw, w, path))
    for name in ("width", "height", "num_frames", "steps"):
        if not 1 <= getattr(req, name) <= LIMITS[name]:
            raise ConfigError(f"{w}.{name} must be in [1, {LIMITS[name]}], got "
                              f"{getattr(req, name)}", path=path)
    if not 0 < req.fps <= LIMITS["fps"]:
        raise ConfigError(f"{w}.fps must be in (0, {LIMITS['fps']:g}], got {req.fps:g}", path=path)
    _check_guidance(req.guidance, f"{w}.guidance", path)
    if req.image is not None and not (0 <= req.image.frame and 0 <= req.image.crf <= 51):
        raise ConfigError(f"{w}.image: frame must be ≥ 0 and crf in [0, 51]", path=path)
    if not 0 <= req.seed < 2**63:
        raise ConfigError(f"{w}.seed must be in [0, 2**63)", path=path)
    return req


def _check_official_constraints(case: Case, path: Path) -> None:
    """The official LTX-2 pipelines need frames = 8k+1 and sizes divisible by 32 or 64."""
    if case.backend != "ltx_official":
        return
    req, where = case.request, f"case {case.id!r}"
    if case.pipeline not in SIZE_DIVISOR:
        raise ConfigError(f"{where}: pipeline {case.pipeline!r} is not an official LTX-2 pipeline "
                          f"({sorted(SIZE_DIVISOR)})", path=path)
    if not case.model.checkpoint:
        raise ConfigError(f"{where}: model.checkpoint is required for the official LTX-2 "
                          "pipelines", path=path)
    if case.modality == "video" and (req.num_frames - 1) % 8 != 0:
        raise ConfigError(f"{where}: num_frames={req.num_frames} is not 8k+1 as the official "
                          "LTX-2 pipeline requires (e.g. 9, 25, 121)", path=path)
    div = SIZE_DIVISOR[case.pipeline]
    if req.width % div or req.height % div:
        raise ConfigError(f"{where}: {req.width}x{req.height} is not divisible by {div} as the "
                          f"official {case.pipeline} pipeline requires", path=path)
    if case.pipeline in ("two_stage", "two_stage_hq") and not (
            case.model.spatial_upsampler and case.model.distilled_lora):
        raise ConfigError(f"{where}: pipeline {case.pipeline} needs model.spatial_upsampler "
                          "and model.distilled_lora", path=path)
    if req.image is not None and req.image.frame >= req.num_frames:
        raise ConfigError(f"{where}: request.image.frame={req.image.frame} is past the last "
                          f"frame ({req.num_frames - 1})", path=path)


def parse_case(raw: Any, *, group: str, path: Path) -> Case:
    """Validate one ``[[case]]`` table and build its :class:`Case`."""
    if not isinstance(raw, dict):
        raise ConfigError("each [[case]] must be a table", path=path)
    case_id = validate_case_id(_typed(raw, "id", str, "case", path), path=path)
    where = f"case {case_id!r}"
    _check_keys(raw, _CASE_KEYS, where, path)

    def choice(key: str, options: tuple[str, ...], default: Any = ...) -> str:
        value = _typed(raw, key, str, where, path, default)
        if value not in options:
            raise ConfigError(f"{where}.{key}={value!r}; expected one of {list(options)}",
                              path=path)
        return value

    comparability = choice("comparability", COMPARABILITY)
    reason = _typed(raw, "reason", str, where, path, "")
    if comparability != "official" and not reason.strip():
        raise ConfigError(f"{where}: comparability={comparability!r} needs a reason", path=path)
    key_frames = tuple(_typed(raw, "key_frames", list, where, path, list(KEY_FRAMES)))
    if not key_frames or any(k not in KEY_FRAMES for k in key_frames) or len(set(key_frames)) != len(key_frames):
        raise ConfigError(f"{where}.key_frames must be distinct values of {list(KEY_FRAMES)}",
                          path=path)
    case = Case(
        id=case_id, group=group, modality=choice("modality", MODALITIES),
        backend=choice("backend", BACKENDS), pipeline=choice("pipeline", PIPELINES),
        model=_parse_model(raw.get("model"), where, path),
        request=_parse_request(raw.get("request"), where, path),
        gpus=_typed(raw, "gpus", int, where, path, 1),
        runner=_typed(raw, "runner", str, where, path),
        comparability=comparability, reason=reason,
        key_frames=key_frames if raw.get("modality") == "video" else ("first",),
        estimated_minutes=float(_typed(raw, "estimated_minutes", (int, float), where, path, 10.0)),
        source=str(path),
        sglang=parse_sglang(raw["sglang"], where, path) if "sglang" in raw else None,
        precision=choice("precision", PRECISIONS, "bf16"),
        implementation=_typed(raw, "implementation", str, where, path, ""),
        sglang_gt_source=_typed(raw, "sglang_gt_source", str, where, path, ""))
    if case.sglang_gt_source and not GT_SOURCE_RE.match(case.sglang_gt_source):
        raise ConfigError(f"{where}.sglang_gt_source={case.sglang_gt_source[:80]!r}: an "
                          "implementation name as sglang's case_map `source` gives it (letters, "
                          "digits, '.', '_', '+', '-')", path=path)
    if not 1 <= case.gpus <= 1024:
        raise ConfigError(f"{where}.gpus must be in [1, 1024], got {case.gpus}", path=path)
    if case.estimated_minutes < 0:
        raise ConfigError(f"{where}.estimated_minutes must be ≥ 0", path=path)
    if case.modality == "image" and case.request.num_frames != 1:
        raise ConfigError(f"{where}: an image case has num_frames=1", path=path)
    _check_official_constraints(case, path)
    check_case(case, path)
    if case.sglang is not None:
        check_against_case(case.sglang, case_id=case.id, modality=case.modality, gpus=case.gpus,
                           request=case.request, path=path)
    return case


def load_group_file(path: Path, *, lock: Lock | None = None) -> list[Case]:
    """Load one group file; the group name is the file's stem. ``lock``: the assets lock of
    its folder (read from ``<folder>/assets/`` when not given)."""
    group = path.stem
    if not CASE_ID_RE.match(group):
        raise ConfigError(f"invalid group name {group!r} (file name)", path=path)
    from gt_gen.jsonio import read_regular_bytes  # a FIFO or device named *.toml never hangs

    raw = read_regular_bytes(path, max_bytes=16 * 1024 * 1024, what="case file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML: {exc}", path=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("case file is not UTF-8 text", path=path) from exc
    except (RecursionError, ValueError) as exc:  # nesting too deep, an integer of 5000 digits
        raise ConfigError(f"malformed TOML: {type(exc).__name__}: {str(exc)[:100]}",
                          path=path) from exc
    _check_keys(data, {"case", "_comment"}, "the top level", path)
    raw_cases = data.get("case", [])
    if not isinstance(raw_cases, list):
        raise ConfigError("'case' must be an array of tables ([[case]])", path=path)
    cases = [parse_case(raw, group=group, path=path) for raw in raw_cases]
    return _with_pins(cases, lock if lock is not None else read_lock(path.parent / ASSETS_DIRNAME))


def _with_pins(cases: list[Case], lock: Lock) -> list[Case]:
    """Each case with the lock's pins of its URL-only inputs (gt_gen.assets)."""
    out = []
    for case in cases:
        pins = {u: lock.pins[u] for u in url_inputs(case) if u in lock.pins}
        out.append(replace(case, input_pins=pins) if pins else case)
    return out


@dataclass(frozen=True)
class Registry:
    """All cases of a cases directory, ids unique across groups."""

    cases: tuple[Case, ...]
    root: Path

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(sorted({c.group for c in self.cases}))

    def get(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise UnknownCaseError(f"unknown case id {case_id!r}; `gt-gen cases list` shows the "
                               "known ids", case_id=case_id)

    def select(self, *, group: str | list[str] | None = None,
               ids: list[str] | tuple[str, ...] = ()) -> list[Case]:
        """Cases of ``group`` (``all`` or None for every group; a list for their union, in
        registry order), narrowed to ``ids`` (each once) if given."""
        groups = [group] if isinstance(group, str) or group is None else list(group)
        everything = any(g in (None, "all") for g in groups)
        for g in groups:
            if g not in (None, "all") and g not in self.groups:
                raise UnknownCaseError(f"unknown group {g!r}; known groups: {list(self.groups)}")
        pool = [c for c in self.cases if everything or c.group in groups]
        if ids:
            for case_id in ids:
                validate_case_id(case_id)
            chosen = [self.get(i) for i in dict.fromkeys(ids)]
            outside = [c.id for c in chosen if c not in pool]
            if outside:
                where = f"group {group!r}" if isinstance(group, str) else str(groups)
                raise UnknownCaseError(f"case(s) {outside} are not in {where}")
            return chosen
        return pool


def load_registry(root: str | Path | None = None) -> Registry:
    """Load every ``*.toml`` under ``root`` (default: the repository's ``cases/``)."""
    root = Path(root) if root is not None else DEFAULT_CASES_DIR
    if not root.is_dir():
        raise ConfigError("cases directory not found; pass --cases DIR", path=root)
    cases: list[Case] = []
    seen: dict[str, str] = {}
    lock = read_lock(root / ASSETS_DIRNAME)
    for path in sorted(root.glob("*.toml")):
        for case in load_group_file(path, lock=lock):
            if case.id in seen:
                raise ConfigError(f"duplicate case id {case.id!r} (also in {seen[case.id]})",
                                  path=path)
            seen[case.id] = str(path)
            cases.append(case)
    return Registry(cases=tuple(cases), root=root)
