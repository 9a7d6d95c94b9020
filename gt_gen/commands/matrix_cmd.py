"""``gt-gen cases matrix``: a GitHub Actions matrix of cases, optionally packed into shards.

Shards are packed longest-first (each case's ``estimated_minutes``) onto the currently
lightest shard, per runner label, so a slow case never queues behind many quick ones and
no shard mixes runner labels. Written to ``$GITHUB_OUTPUT`` as ``matrix=<json>`` when set.

``--official-only`` is what the GT-generation workflow plans with: the official pipelines can
only produce GT for ``official``-comparable cases, so the others of a group are left out (and
named on stderr), while a non-official case asked for by id is an error, never dropped silently.

``--source-group`` takes sglang's GT workflow input ``official_source_group`` (sglang's
``.github/workflows/diffusion-ci-gt-gen.yml``: ``all | diffusers | wan21 | ltx | ltx23``) and
plans those official cases: ``diffusers`` is the diffusers group, ``wan21`` the Wan group,
``ltx`` the LTX group, ``ltx23`` its LTX-2.3 cases, ``all`` the first three (as sglang's
``all``). Each entry names its source group, and shards never mix source groups, so every
family runs on its own runner label (FLUX.2 on H200, as sglang plans it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from gt_gen.cases import Case, load_registry
from gt_gen.errors import UsageError


#: sglang's ``official_source_group`` -> (gt-gen groups, optional model repo filter).
SOURCE_GROUPS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "diffusers": (("diffusers",), None), "wan21": (("wan",), None), "ltx": (("ltx",), None),
    "ltx23": (("ltx",), "Lightricks/LTX-2.3")}
SOURCE_ALL = ("diffusers", "wan21", "ltx")


def source_group_of(case: Case) -> str:
    """The sglang source group a case belongs to (its group name where none maps)."""
    return next((name for name in SOURCE_ALL if case.group in SOURCE_GROUPS[name][0]), case.group)


def register(csub: argparse._SubParsersAction) -> None:
    p = csub.add_parser("matrix", help="write a GitHub Actions matrix")
    p.add_argument("--cases", dest="cases_dir", default=None,
                   help="folder of <group>.toml case files (default: the cases shipped with gt-gen)")
    p.add_argument("--group", dest="groups", action="append", default=[],
                   help="group, or 'all' (repeatable: the union of the groups)")
    p.add_argument("--source-group", choices=("all", *SOURCE_GROUPS), default=None,
                   help="sglang's official_source_group instead of --group: official cases only")
    p.add_argument("--case", dest="case_ids", action="append", default=[],
                   help="only this case id (repeatable; narrows the groups)")
    p.add_argument("--max-jobs", type=int, default=0, help="at most K shards (0: one per case)")
    p.add_argument("--official-only", action="store_true",
                   help="plan only cases the official pipelines may produce GT for")
    p.set_defaults(func=run)


def select_cases(cases_dir: str | None, groups: list[str], case_ids: list[str], *,
                 official_only: bool = False) -> list[Case]:
    """The cases :meth:`Registry.select` gives for ``groups`` and ``case_ids``; with
    ``official_only``, only those the official pipelines can produce GT for."""
    chosen = load_registry(cases_dir).select(group=groups, ids=case_ids)
    if official_only:
        named = [c for c in chosen if not c.is_official and c.id in case_ids]
        if named:
            raise UsageError(f"case(s) {[c.id for c in named]} are not official-comparable; the "
                             "official pipelines produce no GT for them (see `gt-gen cases list`)")
        dropped = [c.id for c in chosen if not c.is_official]
        if dropped:
            print(f"gt-gen: not planned (no official GT for these): {', '.join(dropped)}",
                  file=sys.stderr)
        chosen = [c for c in chosen if c.is_official]
    if not chosen:
        raise UsageError(f"the selection (groups {groups}) holds no "
                         f"{'official-comparable ' if official_only else ''}cases")
    return chosen


def pack(cases: list[Case], max_jobs: int) -> list[dict]:
    """One entry per case, or at most ``max_jobs`` shards packed longest-first per runner."""
    if max_jobs < 0:
        raise UsageError("--max-jobs must be >= 0")
    if max_jobs == 0 or max_jobs >= len(cases):
        return [{"name": c.id, "cases": c.id, "group": c.group, "source_group": source_group_of(c),
                 "runner": c.runner, "gpus": c.gpus, "estimated_minutes": c.estimated_minutes}
                for c in cases]
    by_runner: dict[tuple[str, str], list[Case]] = {}
    for c in cases:
        by_runner.setdefault((c.runner, source_group_of(c)), []).append(c)
    if max_jobs < len(by_runner):
        raise UsageError(f"--max-jobs {max_jobs} is fewer than the {len(by_runner)} runner "
                         "labels (per source group) of the selection (a shard runs on one label)")
    total = sum(c.estimated_minutes for c in cases)
    # Give each runner label shards in proportion to its work (at least one).
    alloc = {r: 1 for r in by_runner}
    for _ in range(max_jobs - len(by_runner)):
        r = max(by_runner, key=lambda r: sum(c.estimated_minutes for c in by_runner[r]) / alloc[r]
                if len(by_runner[r]) > alloc[r] else -1)
        if len(by_runner[r]) <= alloc[r]:
            break
        alloc[r] += 1
    entries = []
    for (runner, source), group_cases in sorted(by_runner.items()):
        shards: list[list[Case]] = [[] for _ in range(alloc[(runner, source)])]
        for c in sorted(group_cases, key=lambda c: (-c.estimated_minutes, c.id)):
            min(shards, key=lambda s: sum(x.estimated_minutes for x in s)).append(c)
        for i, s in enumerate(x for x in shards if x):
            entries.append({"name": f"{source}-{runner}-{i}", "cases": " ".join(c.id for c in s),
                            "group": ",".join(sorted({c.group for c in s})),
                            "source_group": source, "runner": runner,
                            "gpus": max(c.gpus for c in s),
                            "estimated_minutes": sum(c.estimated_minutes for c in s)})
    assert sum(len(str(e["cases"]).split()) for e in entries) == len(cases), total
    return entries


def select_source_group(cases_dir: str | None, source_group: str,
                        case_ids: list[str]) -> list[Case]:
    """The official cases of sglang's ``official_source_group``."""
    names = SOURCE_ALL if source_group == "all" else (source_group,)
    groups = sorted({g for n in names for g in SOURCE_GROUPS[n][0]})
    chosen = select_cases(cases_dir, groups, case_ids, official_only=True)
    repos = {SOURCE_GROUPS[n][1] for n in names}
    if None not in repos:
        outside = [c.id for c in chosen if c.model.repo not in repos and c.id in case_ids]
        if outside:
            raise UsageError(f"case(s) {outside} are not in source group {source_group!r}")
        chosen = [c for c in chosen if c.model.repo in repos]
    if not chosen:
        raise UsageError(f"source group {source_group!r} holds no official-comparable cases")
    return chosen


def run(args: argparse.Namespace) -> int:
    if bool(args.groups) == bool(args.source_group):
        raise UsageError("give --group (repeatable) or --source-group, one of the two")
    if args.source_group:
        cases = select_source_group(args.cases_dir, args.source_group, args.case_ids)
    else:
        cases = select_cases(args.cases_dir, args.groups, args.case_ids,
                             official_only=args.official_only)
    matrix = {"include": pack(cases, args.max_jobs)}
    if args.source_group and args.source_group != "all":  # e.g. ltx23: say what was asked for
        for entry in matrix["include"]:
            entry["source_group"] = args.source_group
    text = json.dumps(matrix, separators=(",", ":"))
    out = os.environ.get("GITHUB_OUTPUT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(f"matrix={text}\n")
        print(f"wrote a matrix of {len(matrix['include'])} job(s) to $GITHUB_OUTPUT")
    else:
        print(text)
    return 0
