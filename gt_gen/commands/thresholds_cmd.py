"""``gt-gen thresholds check FILE [--platform P]``: validate and print resolved gates."""

from __future__ import annotations

import argparse

from gt_gen.cases import load_registry
from gt_gen.thresholds import METRICS, load_thresholds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("thresholds", help="validate a thresholds file")
    tsub = p.add_subparsers(dest="thresholds_command", required=True)
    cp = tsub.add_parser("check", help="validate FILE and print each case's resolved gates")
    cp.add_argument("file")
    cp.add_argument("--platform", default=None)
    cp.add_argument("--cases", dest="cases_dir", default=None)
    cp.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    th = load_thresholds(args.file, args.platform, require_platform_file=bool(args.platform))
    reg = load_registry(args.cases_dir)
    known = {c.id: c for c in reg.cases}
    ids = sorted(set(known) | th.case_ids())
    print(f"{args.file}: OK ({len(th.base.cases)} case entries"
          + (f", platform overlay {th.overlay.path}" if th.overlay else "") + ")")
    print("case".ljust(36) + "".join(m.ljust(22) for m in METRICS))
    for cid in ids:
        modality = known[cid].modality if cid in known else "video"
        gates = th.gates(cid, modality)
        note = "" if cid in known else "  (no such case in cases/)"
        print(cid.ljust(36) + "".join(f"{g.value:g} [{g.source}]".ljust(22) for g in gates.values()) + note)
    return 0
