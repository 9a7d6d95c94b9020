"""Consistency thresholds in sglang's format, in both of its folder layouts.

Layouts (:func:`find_layout` tells them apart):

* **legacy** -- one ``consistency_threshold.json`` (sglang's older single file) with gt-gen's
  per-platform overlays ``platforms/<platform>.json`` (or ``<platform>.json``) beside it. An
  overlay's case entry replaces the base entry *whole*.
* **current** -- sglang's ``consistency_thresholds/<platform>.json``: ``h100.json`` is the base
  (defaults and every case), each other platform's file is merged over it. sglang's overlay
  files carry complete case entries; whether a *partial* entry would inherit the missing gates
  from ``h100.json`` or fall back to the defaults cannot be read from sglang's stored sources,
  so gt-gen refuses a partial overlay entry there instead of guessing (exit 2, named).

Resolution order for a case's gate on a metric (first hit wins):

1. the case's entry in the platform overlay;
2. the case's entry in the base file;
3. ``default_<metric>_threshold_<modality>`` in the platform overlay;
4. the same default in the base file;
5. sglang's built-in defaults (design.md §2).

A named platform whose overlay cannot be found is an error, never the base gates in silence.
Platform names go through :func:`canonical_platform` (sglang's aliases, e.g. ``sm120`` /
``RTX5090`` -> ``5090``) and are names, never paths.

Why this strictness: an unknown key is nearly always a typo (``ssim_treshold``) that would
otherwise leave the gate on its default without anyone noticing; a duplicate key, ``-Infinity``,
``1e999`` or a negative SSIM gate makes a gate that passes everything. Keys starting with ``_``
are comments and sglang's audio defaults are known, so sglang's own files load unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gt_gen import jsonio
from gt_gen.cases import validate_case_id
from gt_gen.data_paths import data_dir
from gt_gen.errors import ConfigError, UsageError
from gt_gen.names import safe_name

SCHEMA_VERSION = 1
METRICS = ("clip", "ssim", "psnr", "mean_abs_diff")
#: Direction of each gate: a value passes when ``value >= gate`` (higher) or ``<=`` (lower).
HIGHER_IS_BETTER = {"clip": True, "ssim": True, "psnr": True, "mean_abs_diff": False}


@dataclass(frozen=True)
class Range:
    """The sensible values of one gate: a gate outside them passes (or fails) everything."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    why: str = ""

    def contains(self, v: float) -> bool:
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below

    def text(self) -> str:
        return f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"


#: Sensible gate values. SSIM / CLIP gates <= 0 pass nearly anything; PSNR of uint8 frames is
#: never below 0 dB and a finite one never above ~120 dB at any realistic size; a MAD gate of
#: 255 passes every pair of uint8 frames.
RANGES = {
    "clip": Range(0.0, 1.0, lo_open=True, why="a cosine similarity gate"),
    "ssim": Range(0.0, 1.0, lo_open=True, why="an SSIM gate"),
    "psnr": Range(0.0, 200.0, lo_open=True, why="a PSNR gate in dB"),
    "mean_abs_diff": Range(0.0, 255.0, hi_open=True, why="a mean |diff| gate on 0..255 pixels"),
}
BUILTIN_DEFAULTS = {
    "image": {"clip": 0.92, "ssim": 0.95, "psnr": 28.0, "mean_abs_diff": 8.0},
    "video": {"clip": 0.90, "ssim": 0.92, "psnr": 24.0, "mean_abs_diff": 10.0},
}
#: sglang's audio gates (read, validated and kept; not yet evaluated by gt-gen).
_AUDIO_RANGES = {
    "spectral_similarity": Range(0.0, 1.0, lo_open=True, why="a similarity gate"),
    "waveform_correlation": Range(0.0, 1.0, lo_open=True, why="a correlation gate"),
    "rms_db_diff": Range(0.0, 200.0, why="a level difference in dB"),
    "duration_diff": Range(0.0, 3600.0, why="a duration difference in seconds"),
}
AUDIO_DEFAULT_KEYS = tuple(f"default_audio_{m}_threshold" for m in _AUDIO_RANGES)
AUDIO_CASE_KEYS = tuple(f"audio_{m}_threshold" for m in _AUDIO_RANGES)
DEFAULT_KEYS = tuple(f"default_{m}_threshold_{mod}" for m in METRICS for mod in ("image", "video"))
CASE_KEYS = tuple(f"{m}_threshold" for m in METRICS)
#: The checkout's thresholds/, or the copy inside the wheel (gt_gen.data_paths).
DEFAULT_THRESHOLDS_FILE = data_dir("thresholds") / "consistency_threshold.json"

LEGACY_FILE = "consistency_threshold.json"
CURRENT_DIR = "consistency_thresholds"
CURRENT_BASE = "h100"

#: Platform aliases -> the platform's file / folder name in sglang's CI (lowercase keys, with
#: spaces, ``-`` and ``_`` removed before lookup). ``sm120`` / ``RTX5090`` -> ``5090`` is
#: sglang's (issue 12, design.md §2); the others follow the names sglang uses side by side:
#: ci-data's ``ascend`` folder for its NPU jobs, ``gfx1250.json`` ("MI455x / gfx1250"), and
#: ``intel_xpu_b60.json`` next to ``perf_baselines/xpu_b60.json``.
PLATFORM_ALIASES = {
    "h100": "h100", "nvidiah100": "h100",
    "b200": "b200", "nvidiab200": "b200",
    "5090": "5090", "rtx5090": "5090", "geforcertx5090": "5090", "nvidiageforcertx5090": "5090",
    "sm120": "5090",
    "ascend": "ascend", "npu": "ascend",
    "gfx1250": "gfx1250", "mi455x": "gfx1250",
    "intelxpub60": "intel_xpu_b60", "xpub60": "intel_xpu_b60",
}


def canonical_platform(name: str | None) -> str | None:
    """The platform name sglang's CI uses for ``name`` (an alias resolved; else ``name``
    itself, checked to be one safe path component). ``None``/empty stays ``None``."""
    if name is None or name == "":
        return None
    key = re.sub(r"[\s_\-]+", "", str(name).strip().lower())
    if key in PLATFORM_ALIASES:
        return PLATFORM_ALIASES[key]
    return safe_name(name, kind="platform")


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
    layout: str = "legacy"
    files: tuple[str, ...] = field(default=())

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

    def describe(self) -> str:
        """The files the gates come from, for results.json and messages."""
        return " + ".join(self.files) if self.files else self.base.path


def _number(value: Any, key: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {type(value).__name__}", path=path)
    if not math.isfinite(value):
        raise ConfigError(f"{key} is {value!r}: a gate must be a finite number", path=path)
    return float(value)


def _gate(value: Any, key: str, rng: Range, path: str) -> float:
    v = _number(value, key, path)
    if not rng.contains(v):
        raise ConfigError(f"{key}={v:g} is outside {rng.text()}, the sensible values of "
                          f"{rng.why}", path=path)
    return v


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
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SCHEMA_VERSION:
                raise ConfigError(f"schema_version {value!r} is not supported (1..{SCHEMA_VERSION})",
                                  path=path)
            schema_version = value
        elif key in DEFAULT_KEYS:
            metric = key[len("default_"):].rsplit("_threshold_", 1)[0]
            defaults[key] = _gate(value, key, RANGES[metric], path)
        elif key in AUDIO_DEFAULT_KEYS:
            audio[key] = _gate(value, key, _AUDIO_RANGES[key[len("default_audio_"):-len("_threshold")]], path)
        elif key == "cases":
            if not isinstance(value, dict):
                raise ConfigError("'cases' must be an object of case id -> gates", path=path)
            for case_id, entry in value.items():
                validate_case_id(case_id, path=path)
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
        field_name = f"cases.{case_id}.{key}"
        if key.startswith("_"):
            continue
        if key in AUDIO_CASE_KEYS:
            _gate(value, field_name, _AUDIO_RANGES[key[len("audio_"):-len("_threshold")]], path)
            continue
        if key not in CASE_KEYS:
            raise ConfigError(f"unknown key {key!r} in cases.{case_id}; known: "
                              f"{list(CASE_KEYS)}", path=path)
        metric = key[: -len("_threshold")]
        out[metric] = _gate(value, field_name, RANGES[metric], path)
    return out


def load_threshold_file(path: str | Path) -> ThresholdFile:
    """Read and validate one thresholds JSON file (strict JSON; a FIFO, a device or a
    directory is refused before it is read, so nothing hangs)."""
    data = jsonio.load_file(path, what="thresholds file")
    return parse_threshold_data(data, str(path))


@dataclass(frozen=True)
class Layout:
    """Where the base file and the overlays of a ``--thresholds`` argument live."""

    kind: str  # "legacy" | "current"
    base: Path
    overlay_dir: Path
    implied_platform: str | None = None


def find_layout(spec: str | Path | None) -> Layout:
    """Which layout ``spec`` (a file or a folder, or ``None`` for gt-gen's shipped file) is.

    * a folder holding ``h100.json`` (or a ``consistency_thresholds/`` folder holding it):
      the current layout;
    * a file inside a ``consistency_thresholds/`` folder: the current layout, and the file's
      own name is the platform (``h100.json`` is the base itself);
    * a folder holding ``consistency_threshold.json``, or any other file: the legacy layout.
    """
    path = Path(spec) if spec is not None else DEFAULT_THRESHOLDS_FILE
    if path.is_dir():
        for cand in (path, path / CURRENT_DIR):
            if (cand / f"{CURRENT_BASE}.json").exists():
                return Layout("current", cand / f"{CURRENT_BASE}.json", cand)
        if (path / LEGACY_FILE).exists():
            return Layout("legacy", path / LEGACY_FILE, path)
        raise ConfigError(f"thresholds folder holds neither {CURRENT_BASE}.json (sglang's "
                          f"{CURRENT_DIR}/ layout) nor {LEGACY_FILE}", path=path)
    if path.parent.name == CURRENT_DIR and path.name != LEGACY_FILE:
        stem = path.stem if path.suffix == ".json" else path.name
        implied = None if stem == CURRENT_BASE else canonical_platform(stem)
        return Layout("current", path.parent / f"{CURRENT_BASE}.json", path.parent, implied)
    return Layout("legacy", path, path.parent)


def overlay_candidates(layout: Layout, platform: str) -> list[Path]:
    """Where the overlay of ``platform`` may live, in the order tried."""
    if layout.kind == "current":
        return [layout.overlay_dir / f"{platform}.json"]
    return [layout.overlay_dir / "platforms" / f"{platform}.json", layout.overlay_dir / f"{platform}.json"]


def platform_file(base_path: str | Path, platform: str) -> Path:
    """Where the overlay of ``platform`` lives for the thresholds argument ``base_path``
    (the first candidate when none exists)."""
    layout = find_layout(base_path)
    plat = canonical_platform(platform) or ""
    cands = overlay_candidates(layout, plat)
    return next((c for c in cands if c.exists()), cands[0])


def _available(layout: Layout) -> list[str]:
    folder = layout.overlay_dir if layout.kind == "current" else layout.overlay_dir / "platforms"
    try:
        return sorted(p.stem for p in folder.glob("*.json") if p.is_file() and p.name != LEGACY_FILE)
    except OSError:
        return []


def _check_complete_entries(base: ThresholdFile, overlay: ThresholdFile) -> None:
    """Current layout: refuse an overlay entry that leaves out a gate the h100 entry sets
    (see the module docstring: the two readings of a partial entry give other gates)."""
    for cid, entry in overlay.cases.items():
        left_out = sorted(set(base.cases.get(cid, {})) - set(entry))
        if left_out:
            keys = ", ".join(f"{m}_threshold" for m in left_out)
            raise ConfigError(f"cases.{cid} leaves out {keys}, which {CURRENT_BASE}.json sets for "
                              "this case; give every gate in a platform entry (whether sglang "
                              "would inherit or default them is ambiguous)", path=overlay.path)


def load_thresholds(path: str | Path | None = None, platform: str | None = None) -> Thresholds:
    """The thresholds named by ``path`` (see :func:`find_layout`) for ``platform``.

    A named platform (or its alias) whose overlay cannot be found raises
    :class:`ConfigError` (exit 2) in every command: never the base gates in silence."""
    layout = find_layout(path)
    plat = canonical_platform(platform)
    if layout.implied_platform is not None:
        if plat is not None and plat != layout.implied_platform:
            raise UsageError(f"--thresholds names the {layout.implied_platform!r} overlay but "
                             f"--platform is {platform!r}; give the consistency_thresholds/ folder "
                             "(or h100.json) with --platform, or drop --platform")
        plat = layout.implied_platform
    base = load_threshold_file(layout.base)
    files = [str(layout.base)]
    overlay = None
    if plat is not None and not (layout.kind == "current" and plat == CURRENT_BASE):
        cands = overlay_candidates(layout, plat)
        found = next((c for c in cands if c.exists()), None)
        if found is None:
            avail = _available(layout)
            raise ConfigError(
                f"no thresholds for platform {plat!r}"
                + (f" (from {platform!r})" if platform and platform != plat else "")
                + f": looked for {' and '.join(str(c) for c in cands)}; "
                + (f"available: {', '.join(avail)}" if avail else "no platform files there")
                + "; refusing to fall back to the base gates", path=cands[0])
        overlay = load_threshold_file(found)
        if layout.kind == "current":
            _check_complete_entries(base, overlay)
        files.append(str(found))
    return Thresholds(base=base, overlay=overlay, platform=plat, layout=layout.kind, files=tuple(files))
