"""``gt-gen report RESULTS [--audit AUDIT] --html DIR``: the HTML report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gt_gen.atomic import write_text
from gt_gen.errors import ConfigError
from gt_gen.reports.html import render
from gt_gen.results import read_results


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render results.json (and an audit) as one HTML page")
    p.add_argument("results", help="results.json written by `gt-gen compare`")
    p.add_argument("--audit", default=None, help="audit.json written by `gt-gen audit --out`")
    p.add_argument("--html", required=True, help="output folder (index.html)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.results)
    results = read_results(path)
    audit = None
    if args.audit:
        try:
            audit = json.loads(Path(args.audit).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read the audit: {exc}", path=args.audit) from exc
    page = render(results, path.parent, audit)
    out = Path(args.html) / "index.html"
    write_text(out, page)
    print(f"report: {out.resolve()}")
    return 0
