"""``trace.json`` (schema: :mod:`gt_gen.trace.schema`) and a self-contained HTML page.

The page is drawn from the JSON alone (as gt-gen's other reports), works from ``file://`` and
needs no script: a stage table (first divergent stage highlighted) and an inline SVG plotting,
per denoising step, the relative L2 distance of the video and audio latents and x0 predictions
(log scale; the tolerance as a dashed line). :func:`trace_fragment` is the same content without
the page around it: ``gt-gen report`` embeds it in the consistency report.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from gt_gen.atomic import write_json, write_text
from gt_gen.trace.compare import TraceComparison
from gt_gen.trace.schema import SCHEMA_VERSION
from gt_gen.trace.stages import step_of

__all__ = ["SCHEMA_VERSION", "divergence_svg", "trace_fragment", "trace_html", "trace_json",
           "write_report"]


def trace_json(comparison: TraceComparison, *, case_id: str, reference: dict[str, Any],
               candidate: dict[str, Any], injected: bool,
               tolerances: dict[str, tuple[str, float]], notes: list[str]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION, "kind": "gt-gen-trace", "case": case_id,
        "reference": reference, "candidate": candidate, "injected_inputs": injected,
        "tolerances": {k: {"metric": m, "limit": v} for k, (m, v) in sorted(tolerances.items())},
        "verdict": "diverged" if comparison.diverged else "match",
        "first_divergent_stage": comparison.first_divergent,
        "stages": [s.to_json() for s in comparison.stages], "notes": notes,
    }


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}.get(v) if isinstance(v, str) else None


def _fmt(v: Any) -> str:
    x = _num(v)
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def divergence_svg(doc: dict[str, Any], width: int = 640, height: int = 260) -> str:
    """Per-step rel_l2 of latents and x0 (video, audio), log y axis, as inline SVG."""
    series: dict[str, list[tuple[int, float]]] = {}
    for st in doc["stages"]:
        s = step_of(st["name"])
        v = _num(st.get("rel_l2"))
        if s is None or v is None or math.isnan(v):
            continue
        stage, step, kind, modality = s
        x = (stage - 1) * 1000 + step
        series.setdefault(f"{kind} {modality}", []).append((x, max(v, 1e-12)))
    if not series:
        return "<p>No per-step tensors in this trace.</p>"
    xs = sorted({x for pts in series.values() for x, _ in pts})
    xpos = {x: i for i, x in enumerate(xs)}
    tol = _num(doc["tolerances"].get("latent", {}).get("limit"))
    tol = tol if tol is not None and math.isfinite(tol) and tol > 0 else 1e-4
    ys = [v for pts in series.values() for _, v in pts if math.isfinite(v)] or [tol]
    lo = math.floor(math.log10(min(min(ys), tol))) - 0.5
    hi = math.ceil(math.log10(max(max(ys), tol))) + 0.5
    # an infinite rel_l2 (a zero reference, a non-zero candidate) is drawn at the top edge
    series = {k: [(x, min(v, 10.0 ** hi)) for x, v in pts] for k, pts in series.items()}
    left, right, top, bottom = 60, 150, 20, 40
    pw, ph = width - left - right, height - top - bottom

    def px(i: int) -> float:
        return left + (pw * i / max(1, len(xs) - 1) if len(xs) > 1 else pw / 2)

    def py(v: float) -> float:
        return top + ph * (hi - math.log10(v)) / (hi - lo)

    colours = {"latent video": "#1f77b4", "latent audio": "#ff7f0e",
               "denoised video": "#2ca02c", "denoised audio": "#d62728"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="per-step divergence">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for e in range(int(math.ceil(lo)), int(math.floor(hi)) + 1):
        y = py(10.0 ** e)
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">1e{e}</text>')
    for x, i in xpos.items():
        label = f"s{x // 1000 + 1}.{x % 1000:02d}"
        parts.append(f'<text x="{px(i):.1f}" y="{top + ph + 14}" font-size="10" '
                     f'text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" font-size="11" '
                 f'text-anchor="middle">stage.step</text>')
    ty = py(tol)
    parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#999" '
                 f'stroke-dasharray="4 3"/><text x="{left + pw - 4}" y="{ty - 4:.1f}" '
                 f'font-size="10" text-anchor="end" fill="#666">tolerance</text>')
    for n, (name, pts) in enumerate(sorted(series.items())):
        colour = colours.get(name, "#555")
        path = " ".join(f"{px(xpos[x]):.1f},{py(v):.1f}" for x, v in sorted(pts))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        for x, v in pts:
            parts.append(f'<circle cx="{px(xpos[x]):.1f}" cy="{py(v):.1f}" r="2.5" fill="{colour}">'
                         f'<title>{html.escape(name)} {v:.3g}</title></circle>')
        ly = top + 14 + 16 * n
        parts.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 28}" y1="{ly}" y2="{ly}" '
                     f'stroke="{colour}" stroke-width="2"/><text x="{left + pw + 32}" y="{ly + 4}" '
                     f'font-size="11">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


TRACE_CSS = ("table.trace{border-collapse:collapse}table.trace td,table.trace th{border:1px solid #ccc;"
             "padding:2px 6px;font-size:13px}table.trace tr.bad td{background:#fde8e8}"
             "table.trace tr.first td{background:#f8b4b4;font-weight:bold}")


def trace_fragment(doc: dict[str, Any], anchor: str = "trace", heading: int = 2) -> str:
    """The trace's content (engines, verdict, divergence plot, stage table, notes) as an HTML
    fragment; ``anchor`` prefixes its element ids (several traces can share one page)."""
    esc = html.escape
    first = doc.get("first_divergent_stage")
    verdict = (f'first divergent stage: <b class="first-divergent">{esc(first)}</b>' if first
               else "every compared stage is within tolerance")
    rows = []
    for st in doc["stages"]:
        cls = ' class="first"' if st["name"] == first else (
            ' class="bad"' if st["status"] in ("diverged", "shape_mismatch") else "")
        rows.append(
            f'<tr{cls} data-stage="{esc(st["name"])}"><td>{esc(st["name"])}</td>'
            f'<td>{esc(st["status"])}</td>'
            f'<td>{esc(str(st.get("metric") or ""))}</td><td>{_fmt(st.get("value"))}</td>'
            f'<td>{_fmt(st.get("tolerance"))}</td><td>{_fmt(st.get("max_abs"))}</td>'
            f'<td>{_fmt(st.get("rel_l2"))}</td><td>{_fmt(st.get("cosine"))}</td>'
            f'<td>{_fmt(st.get("psnr_min"))}</td></tr>')
    notes = "".join(f"<li>{esc(n)}</li>" for n in doc.get("notes", []))
    ref, cand = doc["reference"], doc["candidate"]
    h = f"h{heading}"
    a = esc(anchor)
    return f"""<p>reference: {esc(str(ref.get('engine')))} ({esc(str(ref.get('precision', '')))}) &middot;
candidate: {esc(str(cand.get('engine')))} ({esc(str(cand.get('precision', '')))}) &middot;
inputs injected: {esc(str(doc.get('injected_inputs')))}</p>
<p id="{a}-verdict" class="trace-verdict">{verdict}</p>
<{h}>Per-step divergence (relative L2 to the reference)</{h}>
<div id="{a}-plot" class="trace-plot">{divergence_svg(doc)}</div>
<{h}>Stages</{h}>
<table class="trace" id="{a}-stages"><tr><th>stage</th><th>status</th><th>metric</th><th>value</th>
<th>tolerance</th><th>max abs</th><th>rel L2</th><th>cosine</th><th>PSNR min (dB)</th></tr>
{''.join(rows)}</table>
{f'<{h}>Notes</{h}><ul>{notes}</ul>' if notes else ''}"""


def trace_html(doc: dict[str, Any]) -> str:
    esc = html.escape
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gt-gen trace: {esc(doc['case'])}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}{TRACE_CSS}</style></head><body>
<h1>Trace of {esc(doc['case'])}</h1>
{trace_fragment(doc)}
</body></html>
"""


def write_report(doc: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``trace.json`` and ``trace.html`` (atomically) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    j = write_json(out_dir / "trace.json", doc)
    h = write_text(out_dir / "trace.html", trace_html(doc))
    return j, h
