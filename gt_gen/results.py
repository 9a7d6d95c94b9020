"""``results.json``: the single source of truth of a comparison (fixed schema, versioned).

Why explicit infinities: identical frames give PSNR = +inf, which strict JSON cannot hold.
We write non-finite numbers as the strings ``"inf"``, ``"-inf"`` and ``"nan"`` and read them
back with :func:`decode_number`, so no consumer silently sees ``Infinity`` (invalid JSON) or
``null`` (which would read as "no value").
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gt_gen.atomic import write_json
from gt_gen.errors import ConfigError

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


def read_results(path: str | Path) -> Results:
    """Load a results.json written by :func:`write_results`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("results file not found", path=path) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"malformed results JSON: {exc}", path=path) from exc
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"not a gt-gen results file of schema_version {SCHEMA_VERSION}",
                          path=path)
    cases = []
    try:
        for raw in data.get("cases", []):
            raw = _decode({k: v for k, v in raw.items() if k != "status"}) | {"status": raw["status"]}
            if raw["status"] not in STATUSES:
                raise ValueError(f"unknown status {raw['status']!r}")
            raw["frames"] = [FrameResult(**f) for f in raw.get("frames", [])]
            cases.append(CaseResult(**raw))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"results file has a malformed case entry ({type(exc).__name__}: {exc})",
                          path=path) from exc
    return Results(cases=cases, meta=_decode(data.get("meta", {})))
