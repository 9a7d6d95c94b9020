"""``gt-gen cases list|matrix``: show the registry; plan a GitHub Actions matrix."""

from __future__ import annotations

import argparse

from gt_gen.cases import load_registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cases", help="list cases, or write a CI matrix")
    csub = p.add_subparsers(dest="cases_command", required=True)
    lp = csub.add_parser("list", help="print the cases")
    lp.add_argument("--cases", dest="cases_dir", default=None)
    lp.add_argument("--group", default=None)
    lp.set_defaults(func=run_list)
    from gt_gen.commands import matrix_cmd

    matrix_cmd.register(csub)


def run_list(args: argparse.Namespace) -> int:
    reg = load_registry(args.cases_dir)
    cases = reg.select(group=args.group)
    rows = [("id", "group", "modality", "pipeline", "gpus", "comparability", "size", "frames",
             "runner")]
    for c in cases:
        rows.append((c.id, c.group, c.modality, c.pipeline, str(c.gpus), c.comparability,
                     f"{c.request.width}x{c.request.height}", str(c.request.num_frames), c.runner))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    for c in cases:
        if c.reason:
            print(f"# {c.id}: {c.comparability}: {c.reason}")
    return 0
