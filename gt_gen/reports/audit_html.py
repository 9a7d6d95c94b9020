"""The audit in HTML: the engine-vs-official table of ``audit --ci-data``, and its page.

Drawn from audit.json alone (which may come from anywhere: every value is type-checked and
escaped here, a row or cell of the wrong type is shown as missing, never trusted). Bars are
inline SVG, so the page works from ``file://`` with nothing to fetch.
"""

from __future__ import annotations

import html
import math
from typing import Any

from gt_gen.reports.markdown import LABEL, fmt
from gt_gen.thresholds import HIGHER_IS_BETTER, METRICS

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px} h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;background:#fff} td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}
.fails{background:#fde8e8} .edge,.far,.loose{background:#fff5d6} .ok{background:#e7f6e7} .na{color:#888}
.sev-error{background:#fde8e8} .sev-warning{background:#fff5d6}
"""
#: Cell class -> the word shown beside the number.
WORD = {"fails": "fails the gate", "edge": "on the edge", "far": "far from official",
        "loose": "loose gate", "ok": "ok"}


def _num(v: Any) -> float | None:
    """A number from audit.json (``"inf"`` strings included); anything else is missing."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v in ("inf", "-inf", "nan"):
        return float(v)
    return None


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _bar(value: float | None, gate: float | None, metric: str) -> str:
    """SSIM/CLIP on a 0..1 scale: the engine's value as a bar, the gate as a red tick."""
    if metric not in ("ssim", "clip") or value is None or gate is None or not math.isfinite(value):
        return ""
    w, h = 120, 12

    def x(v: float) -> float:
        return 1 + max(0.0, min(1.0, v)) * (w - 2)
    colour = "#2a7" if (value >= gate) else "#d33"
    return (f"<svg width='{w}' height='{h}' role='img' aria-label='{metric} {value:.3f} against "
            f"gate {gate:.3f}'><rect width='{w}' height='{h}' fill='#eee'/>"
            f"<rect width='{x(value):.1f}' height='{h}' fill='{colour}'/>"
            f"<line x1='{x(gate):.1f}' x2='{x(gate):.1f}' y1='0' y2='{h}' stroke='#000' "
            f"stroke-width='2'/></svg>")


def distance_section(audit: dict[str, Any]) -> list[str]:
    """The ``engine_distance`` table of an audit (empty when the audit has none)."""
    sec = audit.get("engine_distance")
    if not isinstance(sec, dict):
        return []
    e = html.escape
    meta = _dict(audit.get("meta"))
    ci = _dict(meta.get("ci_data"))
    rows = [r for r in sec.get("cases", []) if isinstance(r, dict)] if isinstance(sec.get("cases"), list) else []
    out = ["<h2 id='engine-distance'>Engine vs official GT</h2>",
           f"<p>ci-data {e(str(ci.get('source', '?')))} @ <code>{e(str(ci.get('commit')))}</code>"
           + (f", platform {e(str(meta['platform']))}" if meta.get("platform") else "")
           + f"; thresholds {e(str(meta.get('thresholds', '?')))}. Each cell: how far the engine's "
           "own GT is from the official GT (worst key frame), the gate, and the margin by which "
           "it passes (negative: it fails).</p>"]
    if isinstance(sec.get("rule"), str):
        out.append(f"<p>Rule: {e(sec['rule'])}.</p>")
    out.append("<table id='distance'><tr><th>case</th><th>official case_map</th>"
               + "".join(f"<th>{LABEL[m]} engine vs official (gate, margin)</th>" for m in METRICS)
               + "<th>gate on the engine's own GT</th></tr>")
    for r in rows:
        cid = str(r.get("case_id", "?"))
        status = str(r.get("status", "?"))
        worst, gates = _dict(r.get("worst")), _dict(r.get("gates"))
        margins, verdict = _dict(r.get("margin")), _dict(r.get("verdict"))
        cells = []
        for m in METRICS:
            v, g, mg = _num(worst.get(m)), _num(_dict(gates.get(m)).get("value")), _num(margins.get(m))
            kind = verdict.get(m) if isinstance(verdict.get(m), str) and verdict.get(m) in WORD else None
            if status != "compared":
                cells.append(f"<td class='na'>{e(status)}</td>")
            elif v is None:
                cells.append(f"<td class='na'>not evaluated ({fmt(g)})</td>")
            else:
                d = ">=" if HIGHER_IS_BETTER[m] else "<="
                cells.append(f"<td class='{kind or 'na'}' data-metric='{m}'>{fmt(v)} ({e(d)} {fmt(g)}, "
                             f"{'' if mg is None else f'{mg:+.3g}'}) {_bar(v, g, m)}"
                             f"<br><small>{e(WORD.get(kind or '', ''))}</small></td>")
        listed = "listed" if r.get("official_case_map") is True else "not listed"
        msg = str(r.get("message") or "")
        out.append(f"<tr data-case='{e(cid)}'><td><code>{e(cid)}</code></td><td>{listed}</td>"
                   f"{''.join(cells)}<td>{e(str(r.get('gate_verdict') or status))}"
                   + (f"<br><small>{e(msg)}</small>" if msg else "") + "</td></tr>")
    out.append("</table>")
    only = sec.get("official_only")
    if isinstance(only, list) and only:
        out.append("<p>Official GT without the engine's own: "
                   + ", ".join(f"<code>{e(str(c))}</code>" for c in only) + "</p>")
    return out


def _findings(audit: dict[str, Any]) -> list[str]:
    e = html.escape
    rank = {"error": 0, "warning": 1, "info": 2}
    rows = sorted((f for f in audit.get("findings", []) if isinstance(f, dict)),
                  key=lambda f: rank.get(str(f.get("severity")), 3)) \
        if isinstance(audit.get("findings"), list) else []
    out = ["<h2 id='findings'>Findings</h2>",
           "<table class='findings'><tr><th>severity</th><th>case</th><th>metric</th><th>kind</th>"
           "<th>finding</th></tr>"]
    for f in rows:
        sev = str(f.get("severity", ""))
        out.append(f"<tr class='sev-{e(sev)}'><td>{e(sev)}</td><td>{e(str(f.get('case_id', '')))}</td>"
                   f"<td>{e(str(f.get('metric') or '–'))}</td><td>{e(str(f.get('kind', '')))}</td>"
                   f"<td>{e(str(f.get('message', '')))}</td></tr>")
    out.append("</table>")
    return out


def render_page(audit: dict[str, Any]) -> str:
    """A self-contained page of an audit (``audit --ci-data --out DIR`` writes it as audit.html)."""
    e = html.escape
    findings = audit.get("findings") if isinstance(audit.get("findings"), list) else []
    counts = {s: sum(isinstance(f, dict) and f.get("severity") == s for f in findings or [])
              for s in ("error", "warning", "info")}
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>gt-gen audit</title>"
           f"<style>{CSS}</style></head><body>", "<h1>gt-gen threshold audit</h1>",
           f"<p id='summary'><b>{counts['error']} error(s), {counts['warning']} warning(s), "
           f"{counts['info']} info</b> — worst: {e(str(audit.get('worst_severity')))}</p>"]
    out += distance_section(audit)
    out += _findings(audit)
    out.append("</body></html>")
    return "\n".join(out)
