"""Options shared by several commands (cases dir, group/case selection, thresholds)."""

from __future__ import annotations

import argparse

from gt_gen.cases import Case, Registry, load_registry


def add_selection(p: argparse.ArgumentParser, *, group_required: bool = False) -> None:
    p.add_argument("--cases", dest="cases_dir", default=None,
                   help="cases directory (default: the repository's cases/)")
    p.add_argument("--group", required=group_required, help="case group (file stem), or 'all'")
    p.add_argument("--case", dest="case_ids", action="append", default=[],
                   help="case id (repeatable; narrows the group)")


def select(args: argparse.Namespace) -> tuple[Registry, list[Case]]:
    """The registry and the selected cases; an empty selection is a usage error."""
    from gt_gen.errors import UsageError

    reg = load_registry(args.cases_dir)
    if not args.group and not args.case_ids:
        raise UsageError("select cases with --group G and/or --case ID")
    cases = reg.select(group=args.group, ids=args.case_ids)
    if not cases:
        raise UsageError(f"the selection (group {args.group!r}) holds no cases")
    return reg, cases
