"""``gt-gen publish``: quality-gate GT and commit it to the ci-data repository."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gt_gen.store.layout import TARGETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("publish", help="publish GT to the ci-data repo (one commit)",
                       description="Quality-gate the GT folder, then commit it to the ci-data "
                                   "repository in one commit, pushed with retry. Branch: main when "
                                   "--source-ref is the engine's main, gt/<name> for any other "
                                   "source ref, gt/local when no --source-ref is given (fetch it "
                                   "with --ref gt/local); --branch overrides.")
    p.add_argument("--source", required=True, help="folder written by `gt-gen generate`")
    p.add_argument("--target", required=True, choices=TARGETS,
                   help="ci-data folder: GT from the official pipelines, or from sglang itself")
    p.add_argument("--platform", default=None,
                   help="publish into the platform sub-folder (e.g. h100, b200); default: none")
    p.add_argument("--repo", required=True, help="ci-data repository (path or URL)")
    p.add_argument("--branch", default=None,
                   help="branch to commit to (default: main for --source-ref main, gt/<name> for "
                        "another ref, gt/local without --source-ref)")
    p.add_argument("--check-only", action="store_true", help="run every check, write nothing")
    p.add_argument("--allow-drift", action="store_true",
                   help="publish even where new GT drifted far from the GT it replaces "
                        "(a deliberate regeneration)")
    p.add_argument("--replace-implementation", action="store_true",
                   help="replace a case's GT made by another implementation (e.g. sglang's Wan2.1 "
                        "WanT2V GT by gt-gen's diffusers GT); refused without it, and recorded "
                        "(case_map entry `replaced`, commit message) with it")
    p.add_argument("--cases", dest="cases_dir", default=None,
                   help="folder of <group>.toml case files (default: the cases shipped with gt-gen)")
    p.add_argument("--group", default=None,
                   help="publish this group's cases (default: the cases in the folder's manifest)")
    p.add_argument("--case", dest="case_ids", action="append", default=[],
                   help="publish only this case id (repeatable)")
    p.add_argument("--source-ref", default=os.environ.get("GITHUB_REF", ""),
                   help="the engine ref the GT was made from; picks the branch "
                        "(default: $GITHUB_REF, else none: branch gt/local)")
    p.add_argument("--source-sha", default=os.environ.get("GITHUB_SHA", ""),
                   help="the engine commit, recorded in the provenance (default: $GITHUB_SHA)")
    p.add_argument("--run-url", default="",
                   help="URL of the CI run, recorded in the provenance (default: from $GITHUB_*)")
    p.add_argument("--attempts", type=int, default=5,
                   help="push attempts when another publish got there first (default: 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from gt_gen.cases import load_registry
    from gt_gen.generate.runner import env_run_url
    from gt_gen.store.publish import (Provenance, Publisher, branch_for,
                                      case_selection_from_manifest, require_cases)
    from gt_gen.redact import redact

    from gt_gen.commands.common import require_local
    from gt_gen.errors import ConfigError, MissingFileError, UsageError
    from gt_gen.store.layout import folder

    source = Path(args.source)
    if not source.is_dir():
        raise (MissingFileError("--source: GT folder not found (the --out of `gt-gen generate`)",
                                path=source) if not source.exists()
               else ConfigError("--source is not a folder (the --out of `gt-gen generate`)",
                                path=source))
    require_local(args.repo, "--repo", "ci-data repository")
    if args.attempts < 1:
        raise UsageError(f"--attempts must be ≥ 1, got {args.attempts}")
    from gt_gen.thresholds import canonical_platform

    args.platform = canonical_platform(args.platform)  # sglang's aliases (sm120 -> 5090)
    folder(args.target, args.platform)  # a --platform that is not a name fails before any git
    reg = load_registry(args.cases_dir)
    if args.group or args.case_ids:
        cases = reg.select(group=args.group, ids=args.case_ids)
    else:
        ids = case_selection_from_manifest(source)
        require_cases(ids)
        cases = [reg.get(i) for i in ids]
    branch = branch_for(args.source_ref, args.branch)
    prov = Provenance(source_ref=args.source_ref, source_sha=args.source_sha,
                      torch=torch.__version__, run_url=redact(args.run_url or env_run_url()))
    pub = Publisher(args.repo, branch, args.target, args.platform, prov, attempts=args.attempts)
    res = pub.publish(source, cases, check_only=args.check_only, allow_drift=args.allow_drift,
                      replace_implementation=args.replace_implementation)
    for r in res.reports:
        print(f"quality {r.case_id}: ok" + "".join(f"\n  note: {n}" for n in r.notes))
    for cid, old in sorted(res.replaced.items()):
        print(f"replaced {cid}: GT made by {old} replaced by {pub.impls[cid].source} "
              "(--replace-implementation)")
    if args.check_only:
        print(f"check-only: {len(cases)} case(s) would be published to {pub.folder} on {branch}")
        return 0
    verb = "published" if res.changed else "unchanged (identical GT already there)"
    print(f"{verb}: {len(cases)} case(s) to {pub.folder} on {branch} at {res.commit} "
          f"(attempt {res.attempts})")
    out = os.environ.get("GITHUB_OUTPUT")
    if out and res.commit:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(f"commit={res.commit}\nbranch={branch}\n")
    return 0
