"""Threshold audit: is every gate able to fail, and will any of them flake?

Findings per case and metric (severity error > warning > info):

* coverage: cases on defaults, threshold entries with no case, cases never measured;
* headroom: the worst value over the last N recorded runs against the gate, with the spread;
* can it fail: a gate that the *negative control* (same request, other seed or prompt) passes
  cannot catch a real regression -> error;
* will it flake: a gate that the *noise floor* (the same request again) fails, or passes by
  less than :data:`FLAKE_MARGIN`, will fail an unchanged engine -> warning. One device's
  noise floor understates cross-device noise, hence the margin;
* suggestions from a stated rule (:func:`suggest`), never looser than the negative control.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gt_gen.cases import Case
from gt_gen.errors import ConfigError, UsageError
from gt_gen.thresholds import HIGHER_IS_BETTER, METRICS, Thresholds, best, worst

SEVERITY = {"error": 3, "warning": 2, "info": 1}
#: The negative controls of ``gt-gen controls`` (controls.json may name others: ``negatives``).
NEGATIVES = ("negative_seed", "negative_prompt")
FLAKE_MARGIN = {"ssim": 0.005, "psnr": 1.0, "mean_abs_diff": 0.5, "clip": 0.005}
SEPARATION = {"ssim": 0.005, "psnr": 0.5, "mean_abs_diff": 0.5, "clip": 0.005}
RULE = ("suggested = SSIM worst-0.04 capped at 0.95; PSNR worst-3 dB capped at 30; MAD worst+3 "
        "with a floor of 4; CLIP worst-0.02 capped at 0.98; 'worst' over recorded runs and noise "
        "floors; never looser than the negative control")


@dataclass
class Finding:
    case_id: str
    kind: str
    severity: str
    message: str
    metric: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Audit:
    findings: list[Finding]
    suggestions: dict[str, dict[str, float]]
    meta: dict[str, Any]
    #: ``audit --ci-data``: each case's engine-vs-official distance beside its gate
    #: (:mod:`gt_gen.audit_cidata`); ``None`` for the registry audit.
    engine_distance: dict[str, Any] | None = None

    def worst_severity(self) -> str | None:
        if not self.findings:
            return None
        return max(self.findings, key=lambda f: SEVERITY[f.severity]).severity


def _num(x: Any) -> float | None:
    if x is None:
        return None
    return float(x) if not isinstance(x, str) else float(x)


def suggest(metric: str, observed: float) -> float:
    """The stated rule, before the negative-control bound."""
    if metric == "ssim":
        return min(observed - 0.04, 0.95)
    if metric == "psnr":
        return min(observed - 3.0, 30.0)
    if metric == "mean_abs_diff":
        return max(observed + 3.0, 4.0)
    return min(observed - 0.02, 0.98)


def load_controls(path: Path) -> dict[str, Any]:
    """controls.json (strict JSON), its shape checked where :func:`run_audit` reads it."""
    from gt_gen import jsonio
    from gt_gen.errors import MissingFileError

    f = path / "controls.json" if path.is_dir() else path
    try:
        data = jsonio.load_file(f, what="controls file")
    except MissingFileError as exc:
        raise ConfigError("controls.json not found; run `gt-gen controls` first", path=f) from exc
    if not isinstance(data, dict) or not isinstance(data.get("cases", {}), dict):
        raise ConfigError("not a controls.json of `gt-gen controls` (expected an object with a "
                          "'cases' object)", path=f)
    for key, default in (("noise_floors", ["noise_floor"]), ("negatives", list(NEGATIVES))):
        names = data.get(key, default)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{key} must be a list of names", path=f)
    for cid, entry in data.get("cases", {}).items():
        if not isinstance(entry, dict):
            raise ConfigError(f"cases.{cid} must be an object", path=f)
        for name, vals in entry.items():
            if vals is None:
                continue
            if not isinstance(vals, dict):
                raise ConfigError(f"cases.{cid}.{name} must be an object of metric values", path=f)
            for m, v in vals.items():
                if v is not None and (isinstance(v, bool) or not isinstance(v, int | float | str)
                                      or (isinstance(v, str) and v not in ("inf", "-inf", "nan"))):
                    raise ConfigError(f"cases.{cid}.{name}.{m} must be a number, 'inf', '-inf', "
                                      "'nan' or null", path=f)
    return data


def controls_from_results(controls: dict[str, Any] | None, *, floors: list[str],
                          negatives: list[str]) -> dict[str, Any]:
    """``controls`` (or an empty controls.json) extended by ``compare`` results files.

    Why: an engine-specific gate (``thresholds/engines/``) is proven against what that engine
    really scores: its results.json against correct GT is a *noise floor* (the cross-
    implementation distance the gate must pass, with :data:`FLAKE_MARGIN` to spare), and its
    results.json against a wrong request (seed+1) is a *negative control* (which the gate must
    fail). Each file becomes one named control, ``floor:<n>`` or ``negative:<n>`` (n: the order
    given), with each case's worst value per metric; cases that were not evaluated (no GT, no
    candidate, error) add nothing."""
    from gt_gen.results import read_results

    data: dict[str, Any] = dict(controls or {"cases": {}})
    data["cases"] = {cid: dict(e) for cid, e in data.get("cases", {}).items()}
    data["noise_floors"] = list(data.get("noise_floors", ["noise_floor"]))
    data["negatives"] = list(data.get("negatives", list(NEGATIVES)))
    sources: dict[str, str] = {}
    for kind, files in (("floor", floors), ("negative", negatives)):
        for i, path in enumerate(files, 1):
            name = f"{kind}:{i}"
            sources[name] = str(path)
            (data["noise_floors"] if kind == "floor" else data["negatives"]).append(name)
            for res in read_results(path).cases:
                if res.status not in ("passed", "failed") or not res.worst:
                    continue
                data["cases"].setdefault(res.case_id, {})[name] = dict(res.worst)
    data["results_files"] = sources
    return data


def run_audit(cases: list[Case], thresholds: Thresholds, *, controls: dict[str, Any] | None = None,
              history_db: str | None = None, last: int = 20, platform: str | None = None,
              known_ids: set[str] | None = None) -> Audit:
    """Audit ``cases``; ``known_ids`` (every case of the registry) decides stale entries."""
    from gt_gen import history

    findings: list[Finding] = []
    suggestions: dict[str, dict[str, float]] = {}
    ids = {c.id for c in cases}
    measured = history.measured_cases(history_db) if history_db else set()
    ctl_cases = (controls or {}).get("cases", {})
    floors = (controls or {}).get("noise_floors", ["noise_floor"])
    negatives = (controls or {}).get("negatives", list(NEGATIVES))
    for tid in sorted(thresholds.case_ids() - (known_ids if known_ids is not None else ids)):
        findings.append(Finding(tid, "coverage", "warning",
                                "threshold entry with no case in the registry (stale, or a typo)"))
    for case in cases:
        gates = thresholds.gates(case.id, case.modality)
        if not thresholds.has_case_entry(case.id):
            findings.append(Finding(case.id, "coverage", "info", "case is gated by the defaults"))
        if case.id not in measured and case.id not in ctl_cases:
            findings.append(Finding(case.id, "coverage", "info",
                                    "never measured (no history, no controls)"))
            continue
        ctl = ctl_cases.get(case.id, {})
        case_suggest: dict[str, float] = {}
        for m in METRICS:
            gate = gates[m]
            obs = history.observations(history_db, case.id, m, last=last, platform=platform) if history_db else []
            w = worst(obs, m)
            if w is not None:
                spread = max(obs) - min(obs) if all(map(math.isfinite, obs)) else math.inf
                sev = "warning" if not gate.passes(w) else "info"
                findings.append(Finding(case.id, "headroom", sev,
                                        f"worst of last {len(obs)} run(s) {w:.4g} vs gate {gate.value:g} "
                                        f"(spread {spread:.3g})" + (" — the gate failed in recorded runs" if sev == "warning" else ""),
                                        m, {"worst": w, "spread": spread, "runs": len(obs), "gate": gate.value}))
            negs = [v for n in negatives if (v := _num((ctl.get(n) or {}).get(m))) is not None]
            neg = best(negs, m)  # the most similar negative control is the one a gate must fail
            if neg is not None and gate.passes(neg):
                findings.append(Finding(case.id, "can_fail", "error",
                                        f"gate {gate.value:g} passes the negative control ({neg:.4g}): "
                                        "this gate cannot catch a wrong seed or prompt", m,
                                        {"negative": neg, "gate": gate.value}))
            fl = [v for n in floors if (v := _num((ctl.get(n) or {}).get(m))) is not None]
            floor = worst(fl, m)
            if floor is not None:
                margin = FLAKE_MARGIN[m]
                stressed = floor - margin if HIGHER_IS_BETTER[m] else floor + margin
                if not gate.passes(floor) or not gate.passes(stressed):
                    findings.append(Finding(case.id, "flake", "warning",
                                            f"gate {gate.value:g} is within {margin:g} of (or beyond) the "
                                            f"noise floor {floor:.4g}: an unchanged engine will fail it", m,
                                            {"noise_floor": floor, "gate": gate.value}))
            basis = worst([*obs, *fl], m)
            # A NaN measurement (schema-legal in results.json: the metric could not be computed)
            # or an infinite SSIM/MAD proposes no number; a threshold file cannot hold one.
            if basis is not None and math.isfinite(suggest(m, basis)):
                s = suggest(m, basis)
                if neg is not None:
                    bound = neg + SEPARATION[m] if HIGHER_IS_BETTER[m] else neg - SEPARATION[m]
                    s = max(s, bound) if HIGHER_IS_BETTER[m] else min(s, bound)
                    if floor is not None and not (s <= floor if HIGHER_IS_BETTER[m] else s >= floor):
                        findings.append(Finding(case.id, "suggestion", "error",
                                                f"no threshold separates the noise floor ({floor:.4g}) "
                                                f"from the negative control ({neg:.4g})", m))
                case_suggest[m] = round(s, 4)
        if case_suggest:
            suggestions[case.id] = case_suggest
    meta = {"rule": RULE, "flake_margin": FLAKE_MARGIN, "platform": platform, "history": history_db,
            "last_runs": last, "controls": bool(controls), "thresholds": thresholds.describe(),
            "noise_floors": list(floors), "negatives": list(negatives),
            **({"results_files": controls["results_files"]}
               if controls and "results_files" in controls else {})}
    return Audit(findings, suggestions, meta)


def proposal(thresholds: Thresholds, audit: Audit) -> dict[str, Any]:
    """A thresholds file (sglang format) with the suggested entries; the live file is untouched."""
    data: dict[str, Any] = {"_comment": f"PROPOSAL written by gt-gen audit; review before use. {RULE}",
                            "schema_version": 1}
    data |= dict(thresholds.base.defaults) | dict(thresholds.base.audio_defaults)
    cases = {cid: {f"{m}_threshold": v for m, v in entry.items()} for cid, entry in thresholds.base.cases.items()}
    for cid, sug in audit.suggestions.items():
        cases[cid] = cases.get(cid, {}) | {f"{m}_threshold": v for m, v in sug.items()}
    data["cases"] = dict(sorted(cases.items()))
    return data


def check_proposal_path(target: Path, live: list[Path]) -> None:
    if any(target.resolve() == p.resolve() for p in live if p.exists()):
        raise UsageError(f"--write-proposal {target} is a live thresholds file; write the proposal "
                         "elsewhere and review it")


def to_json(audit: Audit) -> dict[str, Any]:
    from gt_gen.results import encode_tree

    out = {"schema_version": 1, "meta": audit.meta, "worst_severity": audit.worst_severity(),
           "findings": [asdict(f) for f in audit.findings], "suggestions": audit.suggestions}
    if audit.engine_distance is not None:
        out["engine_distance"] = audit.engine_distance
    return encode_tree(out)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def distance_markdown(audit: Audit) -> list[str]:
    """The engine-vs-official table of ``audit --ci-data`` (empty for the registry audit)."""
    sec = audit.engine_distance
    if sec is None:
        return []
    ci = audit.meta.get("ci_data") or {}
    lines = ["", f"### Engine vs official GT (ci-data `{ci.get('commit')}`)", "",
             f"Official GT from `{'` then `'.join(ci.get('official') or [])}`, the engine's own "
             f"from `{'` then `'.join(ci.get('engine') or [])}`; each cell: worst key frame "
             "(gate, margin). " + f"Rule: {sec.get('rule', '')}.", "",
             "| case | official case_map | " + " | ".join(METRICS) + " | gate on engine's GT |",
             "|---|---|" + "---|" * len(METRICS) + "---|"]
    for r in sec.get("cases", []):
        cells = []
        for m in METRICS:
            v, g = r["worst"].get(m), (r["gates"].get(m) or {}).get("value")
            if r["status"] != "compared":
                cells.append(r["status"])
            elif v is None:
                cells.append(f"not evaluated ({_fmt(g)})")
            else:
                mark = {"fails": " ❌", "edge": " ⚠️", "far": " ⚠️", "loose": " ⚠️"}.get(r["verdict"].get(m) or "", "")
                cells.append(f"{_fmt(v)} ({_fmt(g)}, {r['margin'][m]:+.3g}){mark}")
        lines.append(f"| `{r['case_id']}` | {'listed' if r['official_case_map'] else 'not listed'} | "
                     + " | ".join(cells) + f" | {r['gate_verdict'] or r['status']} |")
    if sec.get("official_only"):
        lines += ["", "Official GT without the engine's own: " + ", ".join(f"`{c}`" for c in sec["official_only"])]
    return lines


def markdown(audit: Audit) -> str:
    icon = {"error": "❌ error", "warning": "⚠️ warning", "info": "ℹ️ info"}
    lines = ["## gt-gen threshold audit", "",
             f"{sum(f.severity == 'error' for f in audit.findings)} error(s), "
             f"{sum(f.severity == 'warning' for f in audit.findings)} warning(s), "
             f"{sum(f.severity == 'info' for f in audit.findings)} info", *distance_markdown(audit), "",
             "| case | metric | kind | severity | finding |", "|---|---|---|---|---|"]
    for f in sorted(audit.findings, key=lambda f: (-SEVERITY[f.severity], f.case_id, f.metric or "")):
        lines.append(f"| `{f.case_id}` | {f.metric or '–'} | {f.kind} | {icon[f.severity]} | {f.message} |")
    if audit.suggestions:
        lines += ["", "### Suggested thresholds", "", f"Rule: {RULE}.", "",
                  "| case | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
        for cid, s in sorted(audit.suggestions.items()):
            lines.append(f"| `{cid}` | " + " | ".join(f"{s[m]:g}" if m in s else "–" for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def table(audit: Audit) -> str:
    rows = [("severity", "case", "metric", "kind", "finding")]
    rows += [(f.severity, f.case_id, f.metric or "-", f.kind, f.message)
             for f in sorted(audit.findings, key=lambda f: (-SEVERITY[f.severity], f.case_id))]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r[:4], widths)) + "  " + r[4] for r in rows) + "\n"
