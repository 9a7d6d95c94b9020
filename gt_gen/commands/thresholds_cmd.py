"""``gt-gen thresholds check FILE|DIR [--platform P] [--format table|json]``.

Validates the thresholds (either layout, see :mod:`gt_gen.thresholds`) and prints every case's
resolved gates with their source: exactly the gates ``compare`` applies, from the same loader.
"""

from __future__ import annotations

import argparse
import json

from gt_gen.cases import load_registry
from gt_gen.thresholds import METRICS, Thresholds, load_thresholds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("thresholds", help="validate a thresholds file")
    tsub = p.add_subparsers(dest="thresholds_command", required=True)
    cp = tsub.add_parser("check", help="validate FILE (or a consistency_thresholds/ folder) and "
                                       "print each case's resolved gates")
    cp.add_argument("file", help="consistency_threshold.json, a consistency_thresholds/ folder, "
                                 "or a file inside it")
    cp.add_argument("--platform", default=None, help="platform or alias (e.g. 5090, sm120, RTX5090)")
    cp.add_argument("--cases", dest="cases_dir", default=None,
                    help="folder of <group>.toml case files (default: the cases shipped with gt-gen)")
    cp.add_argument("--format", choices=("table", "json"), default="table",
                    help="a table for people (default) or JSON for scripts")
    cp.set_defaults(func=run_check)


def resolved(th: Thresholds, modalities: dict[str, str]) -> dict[str, dict[str, dict[str, object]]]:
    """Case id -> metric -> {value, source} for the registry's cases and every threshold entry
    (an entry with no case is resolved as a video, and flagged by the table)."""
    ids = sorted(set(modalities) | th.case_ids())
    return {cid: {m: {"value": g.value, "source": g.source}
                  for m, g in th.gates(cid, modalities.get(cid, "video")).items()} for cid in ids}


def table(rows: dict[str, dict[str, dict[str, object]]], known: set[str]) -> list[str]:
    """Fixed-width lines whose columns fit the longest case id and gate text."""
    cells = {cid: [f"{g[m]['value']:g} [{g[m]['source']}]" for m in METRICS] for cid, g in rows.items()}
    id_w = max([len("case"), *(len(c) for c in rows)]) + 2
    col_w = [max([len(m), *(len(c[i]) for c in cells.values())]) + 2 for i, m in enumerate(METRICS)]
    lines = ["case".ljust(id_w) + "".join(m.ljust(w) for m, w in zip(METRICS, col_w)).rstrip()]
    for cid, c in cells.items():
        note = "" if cid in known else "  (no such case in cases/)"
        lines.append((cid.ljust(id_w) + "".join(v.ljust(w) for v, w in zip(c, col_w))).rstrip() + note)
    return lines


def run_check(args: argparse.Namespace) -> int:
    th = load_thresholds(args.file, args.platform)
    reg = load_registry(args.cases_dir)
    modalities = {c.id: c.modality for c in reg.cases}
    rows = resolved(th, modalities)
    if args.format == "json":
        print(json.dumps({"layout": th.layout, "platform": th.platform, "files": list(th.files),
                          "cases": rows}, indent=2, sort_keys=True))
        return 0
    print(f"{args.file}: OK ({th.layout} layout, {len(th.base.cases)} case entries"
          + (f", platform {th.platform}" if th.platform else "")
          + (f", overlay {th.overlay.path}" if th.overlay else "") + ")")
    for line in table(rows, set(modalities)):
        print(line)
    return 0
