"""Consistency thresholds in sglang's ``consistency_threshold.json`` format.

Resolution order for a case's gate on a metric (first hit wins):

1. the case's entry in the platform overlay ``thresholds/platforms/<platform>.json``
   (an overlay entry replaces the base entry *whole*, as sglang does);
2. the case's entry in the base file;
3. ``default_<metric>_threshold_<modality>`` in the platform overlay;
4. the same default in the base file;
5. sglang's built-in defaults (design.md §2).

Why this strictness: an unknown key is nearly always a typo (``ssim_treshold``) that would
otherwise leave the gate on its default without anyone noticing. Keys starting with ``_``
are comments and sglang's audio defaults are known, so sglang's own files load unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gt_gen.cases import validate_case_id
from gt_gen.errors import ConfigError

SCHEMA_VERSION = 1
METRICS = ("clip", "ssim", "psnr", "mean_abs_diff")
#: Direction of each gate: a value passes when ``value >= gate`` (higher) or ``<=`` (lower).
HIGHER_IS_BETTER = {"clip": True, "ssim": True, "psnr": True, "mean_abs_diff": False}
#: Allowed range of each gate value.
RANGES = {"clip": (-1.0, 1.0), "ssim": (-1.0, 1.0), "psnr": (0.0, 200.0),
          "mean_abs_diff": (0.0, 255.0)}
BUILTIN_DEFAULTS = {
    "image": {"clip": 0.92, "ssim": 0.95, "psnr": 28.0, "mean_abs_diff": 8.0},
    "video": {"clip": 0.90, "ssim": 0.92, "psnr": 24.0, "mean_abs_diff": 10.0},
}
AUDIO_DEFAULT_KEYS = ("default_audio_spectral_similarity_threshold",
                      "default_audio_waveform_correlation_threshold",
                      "default_audio_rms_db_diff_threshold",
                      "default_audio_duration_diff_threshold")
DEFAULT_KEYS = tuple(f"default_{m}_threshold_{mod}" for m in METRICS for mod in ("image", "video"))
CASE_KEYS = tuple(f"{m}_threshold" for m in METRICS)
#: Audio gates sglang allows per case; read and kept, not yet evaluated by gt-gen.
AUDIO_CASE_KEYS = ("audio_spectral_similarity_threshold", "audio_waveform_correlation_threshold",
                   "audio_rms_db_diff_threshold", "audio_duration_diff_threshold")
DEFAULT_THRESHOLDS_FILE = Path(__file__).resolve().parent.parent / "thresholds" / "consistency_threshold.json"


def worst(values: Iterable[float | None], metric: str) -> float | None:
    """The value nearest to failing ``metric``'s gate (the lowest, or for MAD the highest);
    ``None`` entries (not evaluated) are ignored, and nothing left gives ``None``."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return min(vals) if HIGHER_IS_BETTER[metric] else max(vals)


def best(values: Iterable[float | None], metric: str) -> float | None:
    """The value furthest from failing ``metric``'s gate; the mirror of :func:`worst`."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return max(vals) if HIGHER_IS_BETTER[metric] else min(vals)


@dataclass(frozen=True)
class Gate:
    """One metric's gate for one case, with where the value came from."""

    metric: str
    value: float
    source: str

    def passes(self, observed: float) -> bool:
        """Whether ``observed`` passes (NaN never passes; +inf PSNR does)."""
        if math.isnan(observed):
            return False
        return observed >= self.value if HIGHER_IS_BETTER[self.metric] else observed <= self.value


@dataclass(frozen=True)
class ThresholdFile:
    """A parsed thresholds file (base or platform overlay)."""

    path: str
    defaults: dict[str, float]
    cases: dict[str, dict[str, float]]
    audio_defaults: dict[str, float]
    schema_version: int | None


@dataclass(frozen=True)
class Thresholds:
    """A base file plus an optional platform overlay; :meth:`gates` resolves a case."""

    base: ThresholdFile
    overlay: ThresholdFile | None = None
    platform: str | None = None

    def gates(self, case_id: str, modality: str) -> dict[str, Gate]:
        """The resolved gate of every metric for ``case_id`` (see the module docstring)."""
        out: dict[str, Gate] = {}
        entry, entry_src = None, ""
        if self.overlay is not None and case_id in self.overlay.cases:
            entry, entry_src = self.overlay.cases[case_id], f"platform:{self.platform}"
        elif case_id in self.base.cases:
            entry, entry_src = self.base.cases[case_id], "case"
        for metric in METRICS:
            dkey = f"default_{metric}_threshold_{modality}"
            if entry is not None and metric in entry:
                out[metric] = Gate(metric, entry[metric], entry_src)
            elif self.overlay is not None and dkey in self.overlay.defaults:
                out[metric] = Gate(metric, self.overlay.defaults[dkey], f"platform-default:{self.platform}")
            elif dkey in self.base.defaults:
                out[metric] = Gate(metric, self.base.defaults[dkey], "default")
            else:
                out[metric] = Gate(metric, BUILTIN_DEFAULTS[modality][metric], "builtin-default")
        return out

    def has_case_entry(self, case_id: str) -> bool:
        return case_id in self.base.cases or (self.overlay is not None and case_id in self.overlay.cases)

    def case_ids(self) -> set[str]:
        ids = set(self.base.cases)
        if self.overlay is not None:
            ids |= set(self.overlay.cases)
        return ids


def _number(value: Any, key: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {type(value).__name__}", path=path)
    if math.isnan(value):
        raise ConfigError(f"{key} is NaN", path=path)
    return float(value)


def _check_range(metric: str, value: float, key: str, path: str) -> None:
    lo, hi = RANGES[metric]
    if not lo <= value <= hi:
        raise ConfigError(f"{key}={value} is outside [{lo}, {hi}] for {metric}", path=path)


def parse_threshold_data(data: Any, path: str) -> ThresholdFile:
    """Validate a loaded JSON object as a thresholds file."""
    if not isinstance(data, dict):
        raise ConfigError("thresholds file must hold a JSON object", path=path)
    defaults: dict[str, float] = {}
    audio: dict[str, float] = {}
    cases: dict[str, dict[str, float]] = {}
    schema_version = None
    for key, value in data.items():
        if key.startswith("_"):
            continue
        if key == "schema_version":
            if isinstance(value, bool) or not isinstance(value, int) or value > SCHEMA_VERSION:
                raise ConfigError(f"schema_version {value!r} is not supported (max "
                                  f"{SCHEMA_VERSION})", path=path)
            schema_version = value
        elif key in DEFAULT_KEYS:
            metric = key[len("default_"):].rsplit("_threshold_", 1)[0]
            defaults[key] = _number(value, key, path)
            _check_range(metric, defaults[key], key, path)
        elif key in AUDIO_DEFAULT_KEYS:
            audio[key] = _number(value, key, path)
        elif key == "cases":
            if not isinstance(value, dict):
                raise ConfigError("'cases' must be an object of case id -> gates", path=path)
            for case_id, entry in value.items():
                cases[case_id] = _parse_entry(case_id, entry, path)
        else:
            raise ConfigError(f"unknown key {key!r}; known: schema_version, cases, "
                              "default_<clip|ssim|psnr|mean_abs_diff>_threshold_<image|video>, "
                              "audio defaults, and '_'-prefixed comments", path=path)
    return ThresholdFile(path=path, defaults=defaults, cases=cases, audio_defaults=audio,
                         schema_version=schema_version)


def _parse_entry(case_id: str, entry: Any, path: str) -> dict[str, float]:
    if not isinstance(entry, dict):
        raise ConfigError(f"cases.{case_id} must be an object", path=path)
    out: dict[str, float] = {}
    for key, value in entry.items():
        if key.startswith("_") or key in AUDIO_CASE_KEYS:
            continue
        if key not in CASE_KEYS:
            raise ConfigError(f"unknown key {key!r} in cases.{case_id}; known: "
                              f"{list(CASE_KEYS)}", path=path)
        metric = key[: -len("_threshold")]
        out[metric] = _number(value, f"cases.{case_id}.{key}", path)
        _check_range(metric, out[metric], f"cases.{case_id}.{key}", path)
    return out


def load_threshold_file(path: str | Path) -> ThresholdFile:
    """Read and validate one thresholds JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("thresholds file not found; pass --thresholds FILE", path=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("thresholds file is not UTF-8 text", path=path) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                          path=path) from exc
    return parse_threshold_data(data, str(path))


def platform_file(base_path: str | Path, platform: str) -> Path:
    """Where the overlay of ``platform`` lives, next to the base file."""
    validate_case_id(platform)  # same character set; refuses path separators
    base_path = Path(base_path)
    candidates = [base_path.parent / "platforms" / f"{platform}.json",
                  base_path.parent / f"{platform}.json"]
    for cand in candidates:
        if cand.is_file():
            return cand
    return candidates[0]


def load_thresholds(path: str | Path | None = None, platform: str | None = None, *,
                    require_platform_file: bool = False) -> Thresholds:
    """Load the base file and, if ``platform`` is given and its overlay exists, the overlay."""
    path = Path(path) if path is not None else DEFAULT_THRESHOLDS_FILE
    base = load_threshold_file(path)
    overlay = None
    if platform:
        ppath = platform_file(path, platform)
        if ppath.is_file():
            overlay = load_threshold_file(ppath)
        elif require_platform_file:
            raise ConfigError(f"no overlay for platform {platform!r}", path=ppath)
    return Thresholds(base=base, overlay=overlay, platform=platform)
