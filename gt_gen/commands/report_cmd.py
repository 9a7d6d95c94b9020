"""``gt-gen report RESULTS [--audit AUDIT] --html DIR``: the HTML report.

Traces of ``gt-gen trace`` are shown too (found as :mod:`gt_gen.reports.trace_section` says).
All inputs are files that may come from anywhere (artifacts of other runs): they are read
strictly (:mod:`gt_gen.jsonio`), type-checked, and only images inside the results folder are
embedded. The output path is checked before anything is rendered.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render results.json (and an audit) as one HTML page")
    p.add_argument("results", help="results.json written by `gt-gen compare`")
    p.add_argument("--audit", default=None, help="audit.json written by `gt-gen audit --out`")
    p.add_argument("--html", required=True, help="output folder (index.html)")
    p.add_argument("--trace", action="append", default=None, metavar="PATH",
                   help="a trace.json of `gt-gen trace` (or its --out folder) to show; repeatable. "
                        "Default: trace.json in the results folder, below it and beside it")
    p.set_defaults(func=run)


_FINDING_TEXT = ("severity", "case_id", "kind", "message")


def load_audit(path: str | Path) -> dict[str, Any]:
    """audit.json as ``gt-gen audit --out`` writes it, with the fields the report shows checked."""
    from gt_gen import jsonio
    from gt_gen.audit import SEVERITY
    from gt_gen.errors import ConfigError

    data = jsonio.load_file(path, what="audit file")
    if not isinstance(data, dict) or not isinstance(data.get("findings", []), list):
        raise ConfigError("not an audit.json of `gt-gen audit --out` (expected an object with a "
                          "'findings' list)", path=path)
    for i, f in enumerate(data.get("findings", [])):
        if not isinstance(f, dict):
            raise ConfigError(f"findings[{i}] must be an object", path=path)
        for key in _FINDING_TEXT:
            if not isinstance(f.get(key), str):
                raise ConfigError(f"findings[{i}].{key} must be a string", path=path)
        if f["severity"] not in SEVERITY:
            raise ConfigError(f"findings[{i}].severity must be one of {list(SEVERITY)}", path=path)
        if f.get("metric") is not None and not isinstance(f["metric"], str):
            raise ConfigError(f"findings[{i}].metric must be a string or null", path=path)
    sug = data.get("suggestions", {})
    if not isinstance(sug, dict) or not all(
            isinstance(v, dict) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                        for x in v.values()) for v in sug.values()):
        raise ConfigError("suggestions must map each case id to {metric: number}", path=path)
    return data


def run(args: argparse.Namespace) -> int:
    from gt_gen.atomic import write_text
    from gt_gen.reports.html import render
    from gt_gen.results import read_results
    from gt_gen.writable import check_writable

    path = Path(args.results)
    out = Path(args.html) / "index.html"
    check_writable([out], what="HTML report")
    results = read_results(path)
    audit = load_audit(args.audit) if args.audit else None
    from gt_gen.reports.trace_section import load_traces

    traces = load_traces(path, args.trace)  # where they are looked for: trace_section.py
    page = render(results, path.parent, audit, where=path, traces=traces)
    write_text(out, page)
    print(f"report: {out.resolve()}")
    return 0
