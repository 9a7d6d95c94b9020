"""``gt-gen cases list|matrix``: show the registry; plan a GitHub Actions matrix."""

from __future__ import annotations

import argparse

from gt_gen.cases import load_registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cases", help="list cases, or write a CI matrix")
    csub = p.add_subparsers(dest="cases_command", required=True)
    lp = csub.add_parser("list", help="print the cases")
    lp.add_argument("--cases", dest="cases_dir", default=None,
                    help="folder of <group>.toml case files (default: the cases shipped with gt-gen)")
    lp.add_argument("--group", default=None, help="only this group (file stem); default: every group")
    lp.set_defaults(func=run_list)
    pp = csub.add_parser("pin", help="pin the hub revisions of a group to commits (needs the hub)")
    pp.add_argument("--cases", dest="cases_dir", default=None,
                    help="folder of <group>.toml case files (default: the cases shipped with gt-gen)")
    pp.add_argument("--group", required=True, help="group whose case file gets the pins")
    pp.add_argument("--case", dest="case_ids", action="append", default=[],
                    help="pin only this case id (repeatable)")
    pp.add_argument("--dry-run", action="store_true", help="print the pins, write nothing")
    pp.set_defaults(func=run_pin)
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


def run_pin(args: argparse.Namespace) -> int:
    """Resolve every unpinned hub revision of the selection and write it into its case file."""
    from pathlib import Path

    from gt_gen.pinning import hub_resolver, pin_file, wanted

    reg = load_registry(args.cases_dir)
    cases = reg.select(group=args.group, ids=args.case_ids)
    if not wanted(cases):
        print("nothing to pin: every hub revision of the selection is already a commit")
        return 0
    resolve = hub_resolver()
    by_file: dict[str, list] = {}
    for c in cases:
        by_file.setdefault(c.source, []).append(c)
    for src, group_cases in by_file.items():
        pins = pin_file(Path(src), group_cases, resolve, dry_run=args.dry_run)
        for (cid, key), sha in sorted(pins.items()):
            print(f"{'would pin' if args.dry_run else 'pinned'} {cid} {key} = {sha}  ({src})")
    return 0
