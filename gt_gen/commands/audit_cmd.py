"""``gt-gen audit``: findings on the thresholds (coverage, headroom, can-it-fail, will-it-flake)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gt_gen.thresholds import DEFAULT_THRESHOLDS_FILE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="audit the consistency thresholds")
    p.add_argument("--thresholds", default=str(DEFAULT_THRESHOLDS_FILE),
                   help="consistency_threshold.json or a consistency_thresholds/ folder "
                        "(default: the thresholds shipped with gt-gen)")
    p.add_argument("--platform", default=None, help="audit this platform's gates (e.g. h100, 5090)")
    p.add_argument("--history", default=None, help="SQLite results history")
    p.add_argument("--last", type=int, default=20, help="runs of history to consider")
    p.add_argument("--controls", default=None, help="folder (or file) from `gt-gen controls`")
    p.add_argument("--cases", dest="cases_dir", default=None,
                   help="folder of <group>.toml case files (default: the cases shipped with gt-gen)")
    p.add_argument("--group", default="all", help="audit this group's cases (default: all)")
    p.add_argument("--out", default=None, help="write audit.json and audit.md here")
    p.add_argument("--fail-on", choices=("error", "warning", "never"), default="error",
                   help="exit 1 on findings of this severity or worse (default: error)")
    p.add_argument("--write-proposal", default=None, help="write proposed thresholds here (never the live file)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gt_gen.atomic import write_json, write_text
    from gt_gen.audit import (SEVERITY, check_proposal_path, load_controls, markdown, proposal,
                              run_audit, table, to_json)
    from gt_gen.cases import load_registry
    from gt_gen.errors import UsageError
    from gt_gen.thresholds import load_thresholds
    from gt_gen.writable import check_out_dir, check_writable

    if args.last < 1:
        raise UsageError(f"--last must be ≥ 1, got {args.last}")
    th = load_thresholds(args.thresholds, args.platform)
    reg = load_registry(args.cases_dir)
    cases = reg.select(group=args.group)
    # Every input and output checked before anything is written: no partial audit.
    if args.out:
        check_out_dir(args.out, ["audit.json", "audit.md"], what="audit output")
    if args.write_proposal:
        check_proposal_path(Path(args.write_proposal), [Path(f) for f in th.files])
        check_writable([args.write_proposal], what="proposal")
    if args.history:
        from gt_gen.history import check_db

        check_db(args.history, must_exist=True)
    controls = load_controls(Path(args.controls)) if args.controls else None
    audit = run_audit(cases, th, controls=controls, history_db=args.history, last=args.last,
                      platform=th.platform, known_ids={c.id for c in reg.cases})
    print(table(audit), end="")
    md = markdown(audit)
    if args.out:
        write_json(Path(args.out) / "audit.json", to_json(audit))
        write_text(Path(args.out) / "audit.md", md)
    if args.write_proposal:
        write_json(args.write_proposal, proposal(th, audit))
        print(f"proposal written to {args.write_proposal}")
    worst = audit.worst_severity()
    if args.fail_on == "never" or worst is None:
        return 0
    return 1 if SEVERITY[worst] >= SEVERITY[args.fail_on] else 0
