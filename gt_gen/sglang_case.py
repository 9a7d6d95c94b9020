"""How sglang's own CI runs a case: its server launch and the request its test client sends.

Why this lives beside the case: gt-gen gates an engine against GT that sglang's CI (or the
official code) made from one exact request on one exact server launch. When gt-gen asks a
server for a candidate, it must ask for that same thing, and say how the server has to be
launched, or the comparison measures a different request. The ``[case.sglang]`` table records
those facts as sglang's test suite states them (``python/sglang/multimodal_gen/test/server/``:
``DiffusionServerArgs`` and ``DiffusionSamplingParams``), validated as strictly as the rest of
the case file; ``tests/data/sglang_cases.json`` holds the same facts with their sources.

Layout::

    [case.sglang]
    source = "gpu_cases.py TWO_GPU_CASES (sglang 0.5.23)"   # where the facts come from
    status = "official_comparable"                           # sglang's own classification
    generator_device = "cuda"                                # noise device the request gets
    [case.sglang.server_args]       # how ``sglang serve`` is launched for the case
    model_path = "Lightricks/LTX-2.3"
    num_gpus = 2
    cfg_parallel = true
    extras = ["--pipeline-class-name LTX2TwoStagePipeline"]
    [case.sglang.server_args.env]   # environment the server runs with
    [case.sglang.sampling]          # what sglang's test client sends
    prompt = "A curious raccoon"
    output_size = ""                # "" = the server's default size
    seconds = 1
    [case.sglang.sampling.extras]   # merged into the request body (OpenAI extra_body)
    seed = 42
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gt_gen.errors import ConfigError

#: sglang's own classification of a case (ci-data ``official_repro_case_map.json`` statuses,
#: plus ``no_consistency_check`` for a case whose ``run_consistency_check`` is False).
SGLANG_STATUSES = ("official_comparable", "native_only_excluded", "official_not_comparable",
                   "no_consistency_check", "")
#: Output formats sglang 0.5.23's image API writes (``choose_output_image_ext``) and mp4 video.
OUTPUT_FORMATS = ("", "png", "jpeg", "jpg", "webp", "mp4")
GENERATOR_DEVICES = ("cuda", "cpu")
_SIZE_RE = re.compile(r"^([1-9][0-9]*)x([1-9][0-9]*)$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_SPEC_KEYS = {"source", "status", "generator_device", "server_args", "sampling"}
_SERVER_KEYS = {"model_path", "num_gpus", "tp_size", "ulysses_degree", "ring_degree",
                "cfg_parallel", "lora_path", "dynamic_lora_path", "second_lora_path",
                "enable_cache_dit", "dit_layerwise_offload", "dit_offload_prefetch_size",
                "text_encoder_cpu_offload", "extras", "env"}
_SAMPLING_KEYS = {"prompt", "output_size", "seconds", "num_frames", "fps", "image_urls",
                  "direct_url_test", "output_format", "extras"}


@dataclass(frozen=True)
class SglangServerArgs:
    """sglang's ``DiffusionServerArgs`` for the case: what ``sglang serve`` is launched with."""

    model_path: str
    num_gpus: int = 1
    tp_size: int | None = None
    ulysses_degree: int | None = None
    ring_degree: int | None = None
    cfg_parallel: bool = False
    lora_path: str = ""
    #: Loaded after start-up by sglang's LoRA checks (``set_lora``), not at launch.
    dynamic_lora_path: str = ""
    #: Loaded by sglang's multi-LoRA checks after start-up, not at launch.
    second_lora_path: str = ""
    enable_cache_dit: bool = False
    dit_layerwise_offload: bool = False
    dit_offload_prefetch_size: float | None = None
    text_encoder_cpu_offload: bool = False
    extras: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    def tokens(self) -> list[str]:
        """The ``extras`` split as a shell would (sglang joins them, then ``shlex.split``)."""
        out: list[str] = []
        for item in self.extras:
            out.extend(shlex.split(item))
        return out

    def option(self, name: str) -> str | None:
        """The value of ``--name VALUE`` or ``--name=VALUE`` in ``extras``, if given."""
        toks = self.tokens()
        for i, tok in enumerate(toks):
            if tok.startswith(name + "="):
                return tok[len(name) + 1:]
            if tok == name and i + 1 < len(toks):
                return toks[i + 1]
        return None

    @property
    def pipeline_class_name(self) -> str:
        """``--pipeline-class-name`` from ``extras`` ("" when the model's default pipeline)."""
        return self.option("--pipeline-class-name") or ""

    def serve_argv(self) -> list[str]:
        """``sglang serve`` arguments in the order sglang's test harness builds them."""
        argv = ["sglang", "serve", "--model-path", self.model_path, "--model-type", "diffusion",
                "--num-gpus", str(self.num_gpus)]
        if self.tp_size is not None:
            argv += ["--tp-size", str(self.tp_size)]
        if self.ulysses_degree is not None:
            argv += ["--ulysses-degree", str(self.ulysses_degree)]
        if self.dit_layerwise_offload:
            argv += ["--dit-layerwise-offload", "true"]
        if self.dit_offload_prefetch_size:
            argv += ["--dit-offload-prefetch-size", _num(self.dit_offload_prefetch_size)]
        if self.text_encoder_cpu_offload:
            argv.append("--text-encoder-cpu-offload")
        if self.ring_degree is not None:
            argv += ["--ring-degree", str(self.ring_degree)]
        if self.cfg_parallel:
            argv.append("--enable-cfg-parallel")
        if self.lora_path:
            argv += ["--lora-path", self.lora_path]
        return argv + self.tokens()

    def serve_env(self) -> dict[str, str]:
        """Environment sglang's harness adds (cache-dit is switched on by environment)."""
        env = {"SGLANG_CACHE_DIT_ENABLED": "true"} if self.enable_cache_dit else {}
        return env | dict(self.env)

    def serve_command(self) -> str:
        """One shell line: ``ENV=... sglang serve ...``."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.serve_env().items()))
        return (env + " " if env else "") + shlex.join(self.serve_argv())


@dataclass(frozen=True)
class SglangSampling:
    """sglang's ``DiffusionSamplingParams`` for the case, as its test client sends them."""

    prompt: str
    #: ``"WxH"``; ``""`` leaves the size to the server's model default.
    output_size: str = ""
    seconds: int = 1
    num_frames: int | None = None
    fps: int | None = None
    image_urls: tuple[str, ...] = ()
    #: True: the URL itself goes to the server (``reference_url`` / ``url``), no upload.
    direct_url_test: bool = False
    output_format: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int] | None:
        m = _SIZE_RE.match(self.output_size)
        return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True)
class SglangSpec:
    """The ``[case.sglang]`` table."""

    source: str
    status: str = ""
    generator_device: str = "cuda"
    server_args: SglangServerArgs | None = None
    sampling: SglangSampling | None = None


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _keys(table: Any, allowed: set[str], where: str, path: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table", path=path)
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}",
                          path=path)
    return table


def _get(table: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str, path: Path,
         default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"missing required field {where}.{key}", path=path)
        return default
    value = table[key]
    types = typ if isinstance(typ, tuple) else (typ,)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{where}.{key} must be {'/'.join(t.__name__ for t in types)}, "
                          "got a boolean", path=path)
    if not isinstance(value, types):
        raise ConfigError(f"{where}.{key} must be {'/'.join(t.__name__ for t in types)}, got "
                          f"{type(value).__name__}", path=path)
    return value


def _positive(table: dict[str, Any], key: str, where: str, path: Path) -> int | None:
    value = _get(table, key, int, where, path, None)
    if value is not None and value < 1:
        raise ConfigError(f"{where}.{key} must be ≥ 1, got {value}", path=path)
    return value


def _json_value(value: Any, where: str, path: Path) -> Any:
    """TOML values that a JSON request body can carry (no dates, no NaN/inf)."""
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be finite, got {value}", path=path)
        return value
    if isinstance(value, list):
        return [_json_value(v, f"{where}[{i}]", path) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _json_value(v, f"{where}.{k}", path) for k, v in value.items()}
    raise ConfigError(f"{where} must be a string, number, boolean, array or table (got "
                      f"{type(value).__name__})", path=path)


def _parse_server(raw: Any, where: str, path: Path) -> SglangServerArgs:
    t = _keys(raw, _SERVER_KEYS, where, path)
    model_path = _get(t, "model_path", str, where, path)
    if not model_path.strip():
        raise ConfigError(f"{where}.model_path must not be empty", path=path)
    extras = _get(t, "extras", list, where, path, [])
    if not all(isinstance(x, str) and x.strip() for x in extras):
        raise ConfigError(f"{where}.extras must be a list of non-empty strings", path=path)
    for item in extras:
        try:
            shlex.split(item)
        except ValueError as exc:
            raise ConfigError(f"{where}.extras item {item!r} is not shell-splittable: {exc}",
                              path=path) from exc
    env = _get(t, "env", dict, where, path, {})
    for k, v in env.items():
        if not _ENV_RE.match(k) or not isinstance(v, str):
            raise ConfigError(f"{where}.env must map variable names to strings (got {k!r})",
                              path=path)
    prefetch = _get(t, "dit_offload_prefetch_size", (int, float), where, path, None)
    if prefetch is not None and (not math.isfinite(prefetch) or prefetch <= 0):
        raise ConfigError(f"{where}.dit_offload_prefetch_size must be > 0", path=path)
    return SglangServerArgs(
        model_path=model_path, num_gpus=_positive(t, "num_gpus", where, path) or 1,
        tp_size=_positive(t, "tp_size", where, path),
        ulysses_degree=_positive(t, "ulysses_degree", where, path),
        ring_degree=_positive(t, "ring_degree", where, path),
        cfg_parallel=_get(t, "cfg_parallel", bool, where, path, False),
        lora_path=_get(t, "lora_path", str, where, path, ""),
        dynamic_lora_path=_get(t, "dynamic_lora_path", str, where, path, ""),
        second_lora_path=_get(t, "second_lora_path", str, where, path, ""),
        enable_cache_dit=_get(t, "enable_cache_dit", bool, where, path, False),
        dit_layerwise_offload=_get(t, "dit_layerwise_offload", bool, where, path, False),
        dit_offload_prefetch_size=None if prefetch is None else float(prefetch),
        text_encoder_cpu_offload=_get(t, "text_encoder_cpu_offload", bool, where, path, False),
        extras=tuple(extras), env=dict(env))


def _parse_sampling(raw: Any, where: str, path: Path) -> SglangSampling:
    t = _keys(raw, _SAMPLING_KEYS, where, path)
    size = _get(t, "output_size", str, where, path, "")
    if size and not _SIZE_RE.match(size):
        raise ConfigError(f"{where}.output_size must be \"WxH\" (positive integers) or \"\", "
                          f"got {size!r}", path=path)
    if "fps" in t and isinstance(t["fps"], float):
        raise ConfigError(f"{where}.fps must be an integer: sglang's request model takes an int "
                          f"fps, got {t['fps']}", path=path)
    urls = _get(t, "image_urls", list, where, path, [])
    if not all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in urls):
        raise ConfigError(f"{where}.image_urls must be a list of http(s) URLs", path=path)
    fmt = _get(t, "output_format", str, where, path, "")
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(f"{where}.output_format={fmt!r}; expected one of "
                          f"{[f for f in OUTPUT_FORMATS if f]} (or leave it out)", path=path)
    extras = _get(t, "extras", dict, where, path, {})
    return SglangSampling(
        prompt=_get(t, "prompt", str, where, path), output_size=size,
        seconds=_positive(t, "seconds", where, path) or 1,
        num_frames=_positive(t, "num_frames", where, path),
        fps=_positive(t, "fps", where, path), image_urls=tuple(urls),
        direct_url_test=_get(t, "direct_url_test", bool, where, path, False),
        output_format=fmt, extras=_json_value(extras, f"{where}.extras", path))


def parse_sglang(raw: Any, where: str, path: Path) -> SglangSpec:
    """Validate one ``[case.sglang]`` table (``where`` names the case for error messages)."""
    w = f"{where}.sglang"
    t = _keys(raw, _SPEC_KEYS, w, path)
    source = _get(t, "source", str, w, path)
    if not source.strip():
        raise ConfigError(f"{w}.source must cite where the facts come from", path=path)
    status = _get(t, "status", str, w, path, "")
    if status not in SGLANG_STATUSES:
        raise ConfigError(f"{w}.status={status!r}; expected one of "
                          f"{[s for s in SGLANG_STATUSES if s]}", path=path)
    device = _get(t, "generator_device", str, w, path, "cuda")
    if device not in GENERATOR_DEVICES:
        raise ConfigError(f"{w}.generator_device={device!r}; expected one of "
                          f"{list(GENERATOR_DEVICES)}", path=path)
    return SglangSpec(
        source=source, status=status, generator_device=device,
        server_args=(_parse_server(t["server_args"], f"{w}.server_args", path)
                     if "server_args" in t else None),
        sampling=(_parse_sampling(t["sampling"], f"{w}.sampling", path)
                  if "sampling" in t else None))


def check_against_case(spec: SglangSpec, *, case_id: str, modality: str, gpus: int,
                       request: Any, path: Path) -> None:
    """The sglang facts and the case's own request must describe one generation.

    Every value sglang's request states explicitly must equal the case's request field of the
    same meaning; values sglang leaves to the server are the case's to record.
    """
    where = f"case {case_id!r}.sglang"

    def differ(what: str, theirs: Any, ours: Any) -> None:
        raise ConfigError(f"{where}: {what} is {theirs!r} in sglang's definition but "
                          f"{ours!r} in the case's request", path=path)

    server, sampling = spec.server_args, spec.sampling
    if server is not None and server.num_gpus != gpus:
        differ("the GPU count", server.num_gpus, gpus)
    if sampling is None:
        return
    if sampling.prompt != request.prompt:
        differ("the prompt", sampling.prompt, request.prompt)
    if sampling.size is not None and sampling.size != (request.width, request.height):
        differ("the size", sampling.output_size, f"{request.width}x{request.height}")
    if modality == "video":
        if sampling.num_frames is not None and sampling.num_frames != request.num_frames:
            differ("num_frames", sampling.num_frames, request.num_frames)
        if sampling.fps is not None and sampling.fps != request.fps:
            differ("fps", sampling.fps, request.fps)
    for key, attr in (("seed", "seed"), ("num_inference_steps", "steps"),
                      ("negative_prompt", "negative_prompt")):
        if key in sampling.extras and sampling.extras[key] != getattr(request, attr):
            differ(f"extras.{key}", sampling.extras[key], getattr(request, attr))
    image = request.image
    url = getattr(image, "url", "") if image is not None else ""
    if url and sampling.image_urls and url not in sampling.image_urls:
        differ("the input image URL", list(sampling.image_urls), url)
