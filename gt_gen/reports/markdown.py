"""The Markdown summary (printed, and appended to ``$GITHUB_STEP_SUMMARY`` on Actions)."""

from __future__ import annotations

import math

from gt_gen.results import Results
from gt_gen.thresholds import METRICS

ICON = {"passed": "✅ passed", "failed": "❌ failed", "missing_gt": "❌ missing GT",
        "missing_candidate": "❌ missing candidate", "unknown_gt": "❌ GT unknown",
        "error": "❌ error"}
LABEL = {"clip": "CLIP", "ssim": "SSIM", "psnr": "PSNR", "mean_abs_diff": "MAD"}


def fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.4f}" if abs(x) < 10 else f"{x:.2f}"


def cell(res, metric: str) -> str:
    gate = res.gates.get(metric)
    worst = res.worst.get(metric)
    if gate is None:
        return "–"
    if worst is None:
        return f"not evaluated (gate {gate['direction']} {fmt(gate['value'])})"
    return f"{fmt(worst)} ({gate['direction']} {fmt(gate['value'])})"


def unverified_tag(res) -> str:
    """Said beside the status of a case whose GT no manifest verified."""
    return " ⚠️ unverified GT" if getattr(res, "gt_verification", None) == "unverified" else ""


def render(results: Results, title: str = "gt-gen consistency") -> str:
    s = results.summary()
    lines = [f"## {title}", "",
             f"**{s['passed']}/{s['total']} passed** — GT: `{results.meta.get('gt_source', '?')}`"
             + (f" @ `{results.meta['gt_commit']}`" if results.meta.get("gt_commit") else "")
             + (f", platform `{results.meta['platform']}`" if results.meta.get("platform") else ""),
             "", "| case | status | " + " | ".join(f"worst {LABEL[m]} (gate)" for m in METRICS) + " | note |",
             "|---|---|" + "---|" * len(METRICS) + "---|"]
    for r in results.cases:
        lines.append(f"| `{r.case_id}` | {ICON[r.status]}{unverified_tag(r)} | "
                     + " | ".join(cell(r, m) for m in METRICS)
                     + f" | {r.message.replace('|', '/')} |")
    unverified = [r.case_id for r in results.cases if unverified_tag(r)]
    if unverified:
        lines += ["", f"⚠️ **unverified GT** for {len(unverified)} case(s): no manifest.json covered "
                  "their GT folder, so its files were compared as found."]
    return "\n".join(lines) + "\n"
