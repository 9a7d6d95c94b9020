"""One self-contained HTML page drawn from results.json (and optionally an audit).

Images are embedded as data URIs and curves drawn as inline SVG, so the page works from
``file://`` with no network and survives being uploaded as a single CI artifact file.
"""

from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from typing import Any

from gt_gen.reports.markdown import LABEL, fmt, unverified_tag
from gt_gen.results import Results
from gt_gen.thresholds import HIGHER_IS_BETTER, METRICS

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
.unverified{background:#fff5d6;color:#8a5a00;font-size:12px;padding:1px 4px;border-radius:3px}
"""


def _unverified(res: Any) -> str:
    """A visible mark for a case whose GT no manifest verified."""
    return (" <span class='unverified' title='no manifest.json covered this GT folder'>"
            "unverified GT</span>") if unverified_tag(res) else ""


#: Largest image embedded (a side-by-side of three full-HD key frames is a few MB).
MAX_IMAGE_BYTES = 64 * 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def case_image(base: Path, r: Any, where: str | Path | None = None) -> bytes | None:
    """The side-by-side PNG of case ``r``: ``frames/<case>.png``, else its ``diff_image``.

    Both are names from results.json, which may come from anywhere: only a regular PNG file
    inside ``base`` (the results folder, symlinks resolved) is embedded; a name that leads
    out of it, or a file that is not a PNG, is a :class:`ConfigError` naming the case."""
    from gt_gen import jsonio
    from gt_gen.errors import ConfigError
    from gt_gen.names import inside

    rels = [f"frames/{r.case_id}.png"] + ([r.diff_image] if r.diff_image else [])
    for rel in rels:
        path = inside(base, rel, kind=f"image of case {r.case_id}", where=where)
        if not os.path.lexists(path):
            continue
        data = jsonio.read_regular_bytes(path, max_bytes=MAX_IMAGE_BYTES,
                                         what=f"image of case {r.case_id}")
        if not data.startswith(PNG_MAGIC):
            raise ConfigError(f"image {rel!r} of case {r.case_id} is not a PNG", path=where)
        return data
    return None


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
    out += [f"<tr class='sev-{e(f['severity'])}'><td>{e(f['severity'])}</td><td>{e(str(f.get(first) or '–'))}</td>"
            f"<td>{e(f['kind'])}</td><td>{e(f['message'])}</td></tr>" for f in rows]
    out.append("</table>")
    return out


def _suggestions(audit: dict[str, Any], results: Results) -> list[str]:
    """The audit's suggested thresholds beside the gates this run applied (audit.md shows them
    too: a reviewer of the HTML report should not have to open another file to see them)."""
    sug = audit.get("suggestions") or {}
    if not isinstance(sug, dict) or not sug:
        return []
    e = html.escape
    gates = {r.case_id: r.gates for r in results.cases}
    rule = (audit.get("meta") or {}).get("rule") if isinstance(audit.get("meta"), dict) else None
    out = ["<h2 id='suggested-thresholds'>Suggested thresholds (audit)</h2>"]
    if isinstance(rule, str) and rule:
        out.append(f"<p>Rule: {e(rule)}. The live thresholds file is never changed by the audit.</p>")
    out.append("<table id='suggestions'><tr><th>case</th>"
               + "".join(f"<th>{LABEL[m]} suggested (gate now)</th>" for m in METRICS) + "</tr>")
    for cid in sorted(sug):
        row = sug[cid] if isinstance(sug[cid], dict) else {}
        cells = []
        for m in METRICS:
            v = row.get(m)
            now = (gates.get(cid) or {}).get(m, {}).get("value")
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                cells.append("<td class='na'>–</td>")
            else:
                cells.append(f"<td>{fmt(float(v))}" + (f" ({fmt(now)})" if isinstance(now, (int, float)) else "")
                             + "</td>")
        out.append(f"<tr data-suggestion='{e(str(cid))}'><td>{e(str(cid))}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    return out


def render(results: Results, base: Path, audit: dict[str, Any] | None = None,
           where: str | Path | None = None, traces: list[Any] | None = None) -> str:
    """The page; ``base`` is the folder results.json lives in (images are found from it, and
    only inside it); ``where`` names results.json in errors."""
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
            d = (g or {}).get("direction") or (">=" if HIGHER_IS_BETTER[m] else "<=")
            if g is None:
                cells.append("<td class='na'>–</td>")
            elif wv is None:
                cells.append(f"<td class='na'>not evaluated ({e(d)} {fmt(g['value'])})</td>")
            else:
                ok = (wv >= g["value"]) if d == ">=" else (wv <= g["value"])
                cells.append(f"<td class='{'passed' if ok else 'failed'}'>{fmt(wv)} ({e(d)} {fmt(g['value'])})</td>")
        out.append(f"<tr data-case='{e(r.case_id)}'><td><a href='#case-{e(r.case_id)}'>{e(r.case_id)}</a></td>"
                   f"<td class='{e(r.status)}'>{e(WORD[r.status])}{_unverified(r)}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    for r in results.cases:
        out.append(f"<section class='case' id='case-{e(r.case_id)}' data-case='{e(r.case_id)}'>"
                   f"<h2>{e(r.case_id)} — <span class='{e(r.status)}'>{e(WORD[r.status])}</span>"
                   f"{_unverified(r)}</h2>")
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
        img = case_image(base, r, where)
        if img is not None:
            out.append(f"<p>GT | candidate | |diff| ×4 (one row per key frame)</p>"
                       f"<img class='frames' alt='frames of {e(r.case_id)}' src='data:image/png;base64,{base64.b64encode(img).decode()}'>")
        for m, curve in (r.curves or {}).items():
            out.append(_svg_curve(curve, r.gates.get(m, {}).get("value"), f"{r.case_id} {LABEL.get(m, m)}"))
        if audit:
            rows = [f for f in audit.get("findings", []) if f["case_id"] == r.case_id]
            if rows:
                out += _findings_table(rows, "metric")
        if traces:
            from gt_gen.reports.trace_section import case_links

            out += case_links(traces, r.case_id)
        out.append("</section>")
    if audit:
        others = [f for f in audit.get("findings", []) if f["case_id"] not in {r.case_id for r in results.cases}]
        if others:
            out.append("<h2>Other audit findings</h2>")
            out += _findings_table(others, "case_id")
        out += _suggestions(audit, results)
        from gt_gen.reports.audit_html import distance_section

        out += distance_section(audit)  # audit --ci-data: the engine vs the official GT
    if traces:
        from gt_gen.reports.trace_section import sections

        out += sections(traces)  # gt-gen trace output (trace_section.py)
    out.append("</body></html>")
    return "\n".join(out)
