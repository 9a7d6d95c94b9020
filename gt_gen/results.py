"""``results.json``: the single source of truth of a comparison (fixed schema, versioned).

Why explicit infinities: identical frames give PSNR = +inf, which strict JSON cannot hold.
We write non-finite numbers as the strings ``"inf"``, ``"-inf"`` and ``"nan"`` and read them
back with :func:`decode_number`, so no consumer silently sees ``Infinity`` (invalid JSON) or
``null`` (which would read as "no value").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gt_gen import jsonio
from gt_gen.atomic import write_json
from gt_gen.errors import ConfigError
from gt_gen.names import safe_name, safe_relpath

SCHEMA_VERSION = 1
STATUSES = ("passed", "failed", "missing_gt", "missing_candidate", "unknown_gt", "error")


def encode_number(x: float | None) -> float | str | None:
    """A float for JSON: finite as is, non-finite as ``"inf"`` / ``"-inf"`` / ``"nan"``."""
    if x is None or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def decode_number(x: float | str | None) -> float | None:
    if isinstance(x, str):
        return float(x)
    return x


@dataclass
class FrameResult:
    """Metrics of one frame pair and the verdict of each gate (None: not evaluated)."""

    frame: str
    index: int | None
    metrics: dict[str, float | None]
    passed: dict[str, bool | None]


@dataclass
class CaseResult:
    """Everything about one case; ``status`` is one of :data:`STATUSES`."""

    case_id: str
    modality: str
    status: str
    message: str = ""
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    worst: dict[str, float | None] = field(default_factory=dict)
    frames: list[FrameResult] = field(default_factory=list)
    clip: dict[str, Any] = field(default_factory=dict)
    gt_folder: str | None = None
    gt_files: dict[str, str] = field(default_factory=dict)
    candidate: str | None = None
    diff_image: str | None = None
    curves: dict[str, list[float | None]] = field(default_factory=dict)
    #: How the GT files were verified before comparing: ``manifest`` (its folder's
    #: manifest.json), ``fetch.json`` (the record of ``gt-gen fetch``) or ``unverified`` (no
    #: record: e.g. sglang's own ci-data). None when no GT was read.
    gt_verification: str | None = None
    #: Which implementation made the GT (gt_gen.store.provenance): ``source`` (as sglang's
    #: case_map names it; null: not known), ``declared_by``, the ``registry``'s for the case and
    #: ``same_as_registry``; {} when no GT was read.
    gt_implementation: dict[str, Any] = field(default_factory=dict)
    #: What PIL's ``.convert("RGB")`` did to the GT / candidate images, as sglang reads them
    #: (``"RGBA->RGB"``, ``"P->RGB"``; ``"RGB"``: nothing); None for video frames.
    gt_image_mode: str | None = None
    candidate_image_mode: str | None = None
    #: ``--frames all``: what the curves cover and, per key frame, whether the curve there
    #: equals the key-frame metric (and why not).
    whole_video: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "passed"


@dataclass
class Results:
    """A whole comparison run."""

    cases: list[CaseResult]
    meta: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for c in self.cases:
            out[c.status] += 1
        out["total"] = len(self.cases)
        return out

    @property
    def all_passed(self) -> bool:
        return bool(self.cases) and all(c.ok for c in self.cases)


def encode_tree(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by its explicit string (strict JSON)."""
    if isinstance(obj, float):
        return encode_number(obj)
    if isinstance(obj, dict):
        return {k: encode_tree(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [encode_tree(v) for v in obj]
    return obj


def to_json_obj(results: Results) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "meta": encode_tree(results.meta),
            "summary": results.summary(), "cases": [encode_tree(asdict(c)) for c in results.cases]}


def write_results(results: Results, path: str | Path) -> Path:
    return write_json(path, to_json_obj(results))


def _decode(obj: Any) -> Any:
    if isinstance(obj, str) and obj in ("inf", "-inf", "nan"):
        return float(obj)
    if isinstance(obj, dict):
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


class _Bad(ValueError):
    """A field of results.json with the wrong type; ``field`` is its dotted name."""

    def __init__(self, field_name: str, want: str, got: Any) -> None:
        self.field_name = field_name
        shown = type(got).__name__ if not isinstance(got, str | int | float | bool) or got is None \
            else repr(got if not isinstance(got, str) or len(got) <= 40 else got[:40] + "…")
        super().__init__(f"{field_name} must be {want}, got {shown}")


def _number(v: Any, name: str, *, optional: bool = True) -> float | None:
    """A metric value: a JSON number, or the explicit ``"inf"`` / ``"-inf"`` / ``"nan"``."""
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise _Bad(name, "a number, 'inf', '-inf', 'nan'" + (" or null" if optional else ""), v)
    if isinstance(v, str):
        if v not in ("inf", "-inf", "nan"):
            raise _Bad(name, "a number, 'inf', '-inf', 'nan'" + (" or null" if optional else ""), v)
        return float(v)
    return float(v)


def _obj(v: Any, name: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Bad(name, "an object", v)
    return v


def _text(v: Any, name: str, *, optional: bool = False) -> str | None:
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise _Bad(name, "a string" + (" or null" if optional else ""), v)
    return v


def _numbers(v: Any, name: str) -> dict[str, float | None]:
    return {k: _number(x, f"{name}.{k}") for k, x in _obj(v, name).items()}


def _gates(v: Any, name: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m, g in _obj(v, name).items():
        g = dict(_obj(g, f"{name}.{m}"))
        g["value"] = _number(g.get("value"), f"{name}.{m}.value", optional=False)
        if "direction" in g and g["direction"] not in (">=", "<="):
            raise _Bad(f"{name}.{m}.direction", "'>=' or '<='", g["direction"])
        if "source" in g:
            _text(g["source"], f"{name}.{m}.source")
        out[m] = g
    return out


def _frame(v: Any, name: str) -> FrameResult:
    f = _obj(v, name)
    extra = sorted(set(f) - {"frame", "index", "metrics", "passed"})
    if extra:
        raise ValueError(f"{name} has unknown key(s) {extra}")
    index = f.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise _Bad(f"{name}.index", "an integer or null", index)
    passed = _obj(f.get("passed", {}), f"{name}.passed")
    for k, p in passed.items():
        if p is not None and not isinstance(p, bool):
            raise _Bad(f"{name}.passed.{k}", "true, false or null", p)
    return FrameResult(frame=str(_text(f.get("frame"), f"{name}.frame")), index=index,
                       metrics=_numbers(f.get("metrics", {}), f"{name}.metrics"), passed=dict(passed))


def _curves(v: Any, name: str) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {}
    for m, curve in _obj(v, name).items():
        if not isinstance(curve, list):
            raise _Bad(f"{name}.{m}", "a list of numbers", curve)
        out[m] = [_number(x, f"{name}.{m}[{i}]") for i, x in enumerate(curve)]
    return out


def _files(v: Any, name: str) -> dict[str, str]:
    return {k: str(_text(x, f"{name}.{k}")) for k, x in _obj(v, name).items()}


def _gt_implementation(v: Any, name: str) -> dict[str, Any]:
    out = dict(_obj(v, name))
    for k in ("source", "declared_by", "registry"):
        if k in out:
            _text(out[k], f"{name}.{k}", optional=True)
    if out.get("same_as_registry") is not None and not isinstance(out["same_as_registry"], bool):
        raise _Bad(f"{name}.same_as_registry", "true, false or null", out["same_as_registry"])
    if "details" in out:
        _files(out["details"], f"{name}.details")
    return out


def _choice(options: tuple[str, ...]) -> Any:
    def check(v: Any, name: str) -> str:
        if not isinstance(v, str) or v not in options:
            raise _Bad(name, f"one of {list(options)}", v)
        return v
    return check


def _frames(v: Any, name: str) -> list[FrameResult]:
    if not isinstance(v, list):
        raise _Bad(name, "a list", v)
    return [_frame(f, f"{name}[{i}]") for i, f in enumerate(v)]


def _diff_image(v: Any, name: str) -> str | None:
    # A file name inside the results folder, never a path out of it (the report embeds it).
    return None if v is None else safe_relpath(v, kind=name)


#: How each CaseResult field of results.json is checked and converted (a field with no entry
#: here, added later, is passed through as read).
_FIELDS: dict[str, Any] = {
    "case_id": lambda v, n: safe_name(v, kind=n),
    "modality": _choice(("image", "video")),
    "status": _choice(STATUSES),
    "message": _text,
    "gates": _gates,
    "worst": _numbers,
    "frames": _frames,
    "clip": lambda v, n: _decode(_obj(v, n)),
    "gt_folder": lambda v, n: _text(v, n, optional=True),
    "gt_files": _files,
    "candidate": lambda v, n: _text(v, n, optional=True),
    "diff_image": _diff_image,
    "curves": _curves,
    "gt_verification": lambda v, n: _text(v, n, optional=True),
    "gt_implementation": lambda v, n: _gt_implementation(v, n),
    "gt_image_mode": lambda v, n: _text(v, n, optional=True),
    "candidate_image_mode": lambda v, n: _text(v, n, optional=True),
    "whole_video": lambda v, n: _decode(_obj(v, n)),
}
_REQUIRED = ("case_id", "modality", "status")
#: meta fields other code reads as text (history rows, report header).
_META_TEXT = ("created", "platform", "gt_commit", "engine_ref", "gt_source")


def case_from_json(raw: Any, where: str = "case") -> CaseResult:
    """One ``cases[]`` entry of results.json, every field type-checked (ValueError naming it)."""
    raw = _obj(raw, where)
    known = {f.name for f in fields(CaseResult)}
    extra = sorted(set(raw) - known)
    if extra:
        raise ValueError(f"{where} has unknown key(s) {extra}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ValueError(f"{where} lacks {missing}")
    kwargs = {}
    for k, v in raw.items():
        check = _FIELDS.get(k)
        kwargs[k] = check(v, f"{where}.{k}") if check else v
    return CaseResult(**kwargs)


def read_results(path: str | Path) -> Results:
    """Load a results.json written by :func:`write_results`, checking every field's type:
    results.json may come from anywhere (an artifact of another run), and a wrong type must
    be one line naming the file and the field, never a crash in a report or the history."""
    path = Path(path)
    data = jsonio.load_file(path, what="results file")
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise ConfigError(f"not a gt-gen results file of schema_version {SCHEMA_VERSION}",
                          path=path)
    cases = []
    raw_cases = data.get("cases", [])
    try:
        if not isinstance(raw_cases, list):
            raise _Bad("cases", "a list", raw_cases)
        meta = _decode(_obj(data.get("meta", {}), "meta"))
        for k in _META_TEXT:
            if meta.get(k) is not None:
                _text(meta[k], f"meta.{k}")
    except ValueError as exc:
        raise ConfigError(f"malformed results file: {exc}", path=path) from exc
    try:
        for i, raw in enumerate(raw_cases):
            cid = raw.get("case_id") if isinstance(raw, dict) else None
            where = f"cases[{i}]" + (f" ({cid})" if isinstance(cid, str) and len(cid) < 100 else "")
            cases.append(case_from_json(raw, where))
    except (ConfigError, ValueError) as exc:
        msg = exc.one_line() if isinstance(exc, ConfigError) else str(exc)
        raise ConfigError(f"results file has a malformed case entry: {msg}", path=path) from exc
    seen: set[str] = set()
    for c in cases:
        if c.case_id in seen:
            raise ConfigError(f"results file lists case {c.case_id!r} twice", path=path)
        seen.add(c.case_id)
    return Results(cases=cases, meta=meta)
