"""One self-contained HTML page drawn from results.json (and optionally an audit).

Images are embedded as data URIs and curves drawn as inline SVG, so the page works from
``file://`` with no network and survives being uploaded as a single CI artifact file.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from gt_gen.reports.markdown import LABEL, fmt
from gt_gen.results import Results
from gt_gen.thresholds import METRICS

WORD = {"passed": "passed", "failed": "FAILED", "missing_gt": "FAILED: missing GT",
        "missing_candidate": "FAILED: missing candidate", "unknown_gt": "FAILED: GT unknown",
        "error": "ERROR"}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px} h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;background:#fff} td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}
.passed{background:#e7f6e7} .failed,.missing_gt,.missing_candidate,.unknown_gt,.error{background:#fde8e8}
.na{color:#888} .case{border:1px solid #ddd;border-radius:6px;padding:12px;margin:16px 0;background:#fff}
img.frames{max-width:100%;image-rendering:pixelated;border:1px solid #ccc}
.sev-error{background:#fde8e8} .sev-warning{background:#fff5d6}
"""


def _img(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _svg_curve(values: list[float | None], gate: float | None, label: str) -> str:
    pts = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if len(pts) < 2:
        return ""
    w, h = 480, 120
    lo = min([v for _, v in pts] + ([gate] if gate is not None else []))
    hi = max([v for _, v in pts] + ([gate] if gate is not None else []))
    span = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)

    def xy(i: float, v: float) -> str:
        return f"{10 + i / n * (w - 20):.1f},{h - 10 - (v - lo) / span * (h - 20):.1f}"
    poly = " ".join(xy(i, v) for i, v in pts)
    gate_line = ""
    if gate is not None:
        y = xy(0, gate).split(",")[1]
        gate_line = f'<line x1="10" x2="{w - 10}" y1="{y}" y2="{y}" stroke="#d33" stroke-dasharray="4"/>'
    return (f'<figure><figcaption>{html.escape(label)} per frame (dashed: gate)</figcaption>'
            f'<svg width="{w}" height="{h}" role="img" aria-label="{html.escape(label)} curve">'
            f'<rect width="{w}" height="{h}" fill="#fff" stroke="#ccc"/>{gate_line}'
            f'<polyline fill="none" stroke="#2364aa" stroke-width="1.5" points="{poly}"/></svg></figure>')


def _findings_table(rows: list[dict[str, Any]], first: str) -> list[str]:
    """Audit findings as table rows; ``first`` is the leading column (``metric`` or ``case_id``)."""
    e = html.escape
    head = "metric" if first == "metric" else "case"
    out = [f"<table class='findings'><tr><th>severity</th><th>{head}</th><th>kind</th><th>finding</th></tr>"]
    out += [f"<tr class='sev-{e(f['severity'])}'><td>{e(f['severity'])}</td><td>{e(f[first] or '–')}</td>"
            f"<td>{e(f['kind'])}</td><td>{e(f['message'])}</td></tr>" for f in rows]
    out.append("</table>")
    return out


def render(results: Results, base: Path, audit: dict[str, Any] | None = None) -> str:
    """The page; ``base`` is the folder results.json lives in (images are found from it)."""
    s = results.summary()
    e = html.escape
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>gt-gen report</title>"
           f"<style>{CSS}</style></head><body>",
           "<h1>gt-gen consistency report</h1>",
           f"<p id='summary'><b>{s['passed']}/{s['total']} passed</b> — GT {e(str(results.meta.get('gt_source', '?')))}"
           + (f" @ <code>{e(str(results.meta['gt_commit']))}</code>" if results.meta.get("gt_commit") else "")
           + (f", platform {e(str(results.meta['platform']))}" if results.meta.get("platform") else "") + "</p>",
           "<table id='overview'><tr><th>case</th><th>status</th>"
           + "".join(f"<th>worst {LABEL[m]} (gate)</th>" for m in METRICS) + "</tr>"]
    for r in results.cases:
        cells = []
        for m in METRICS:
            g, wv = r.gates.get(m), r.worst.get(m)
            if g is None:
                cells.append("<td class='na'>–</td>")
            elif wv is None:
                cells.append(f"<td class='na'>not evaluated ({e(g['direction'])} {fmt(g['value'])})</td>")
            else:
                ok = (wv >= g["value"]) if g["direction"] == ">=" else (wv <= g["value"])
                cells.append(f"<td class='{'passed' if ok else 'failed'}'>{fmt(wv)} ({e(g['direction'])} {fmt(g['value'])})</td>")
        out.append(f"<tr data-case='{e(r.case_id)}'><td><a href='#case-{e(r.case_id)}'>{e(r.case_id)}</a></td>"
                   f"<td class='{e(r.status)}'>{e(WORD[r.status])}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    for r in results.cases:
        out.append(f"<section class='case' id='case-{e(r.case_id)}' data-case='{e(r.case_id)}'>"
                   f"<h2>{e(r.case_id)} — <span class='{e(r.status)}'>{e(WORD[r.status])}</span></h2>")
        if r.message:
            out.append(f"<p>{e(r.message)}</p>")
        if r.frames:
            out.append("<table><tr><th>frame</th>" + "".join(f"<th>{LABEL[m]}</th>" for m in METRICS) + "</tr>")
            for f in r.frames:
                tds = "".join(
                    f"<td class='{'na' if f.passed.get(m) is None else ('passed' if f.passed[m] else 'failed')}'>"
                    f"{fmt(f.metrics.get(m))}</td>" for m in METRICS)
                out.append(f"<tr><td>{e(f.frame)}</td>{tds}</tr>")
            out.append("</table>")
        img = base / "frames" / f"{r.case_id}.png"
        if not img.is_file() and r.diff_image:
            img = base / r.diff_image
        if img.is_file():
            out.append(f"<p>GT | candidate | |diff| ×4 (one row per key frame)</p>"
                       f"<img class='frames' alt='frames of {e(r.case_id)}' src='{_img(img)}'>")
        for m, curve in (r.curves or {}).items():
            out.append(_svg_curve(curve, r.gates.get(m, {}).get("value"), f"{r.case_id} {LABEL.get(m, m)}"))
        if audit:
            rows = [f for f in audit.get("findings", []) if f["case_id"] == r.case_id]
            if rows:
                out += _findings_table(rows, "metric")
        out.append("</section>")
    if audit:
        others = [f for f in audit.get("findings", []) if f["case_id"] not in {r.case_id for r in results.cases}]
        if others:
            out.append("<h2>Other audit findings</h2>")
            out += _findings_table(others, "case_id")
    out.append("</body></html>")
    return "\n".join(out)
