"""``gt-gen audit``: findings on the thresholds (coverage, headroom, can-it-fail, will-it-flake).

With ``--ci-data REPO --ref R`` it audits the gates against real evidence instead: how far the
engine's own GT is from the official GT, case by case, in a ci-data commit
(:mod:`gt_gen.audit_cidata`); audit.json / audit.md / audit.html.
"""

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
    p.add_argument("--floor-results", action="append", default=[], metavar="RESULTS",
                   help="results.json of `compare` of a correct second implementation (e.g. "
                        "`candidates --engine diffusers`): its worst values are a noise floor "
                        "the gate must pass (repeatable)")
    p.add_argument("--negative-results", action="append", default=[], metavar="RESULTS",
                   help="results.json of `compare` of a wrong candidate (e.g. seed+1): its worst "
                        "values are a negative control the gate must fail (repeatable)")
    ci = p.add_argument_group("engine vs official GT in a ci-data commit (--ci-data)")
    ci.add_argument("--ci-data", default=None, metavar="REPO",
                    help="ci-data repository (path or URL, or a raw-HTTP base URL): compare the "
                         "engine's own GT (sglang_generated/[platform/]) with the official GT "
                         "(official_generated/) of every case present in both")
    ci.add_argument("--ref", default=None, help="commit (or, for git, a branch/tag) of --ci-data")
    ci.add_argument("--source-kind", choices=("auto", "dir", "git", "http"), default="auto",
                    help="how to read --ci-data (default: guessed from it)")
    ci.add_argument("--case", dest="case_ids", action="append", default=[],
                    help="only this case (repeatable)")
    ci.add_argument("--require-manifest", action=argparse.BooleanOptionalAction, default=None,
                    help="refuse GT folders without manifest.json (default: on when the source "
                         "looks published by gt-gen)")
    ci.add_argument("--clip-model", default="none",
                    help="CLIP model id or local folder for the CLIP metric (default: none, off)")
    ci.add_argument("--clip-revision", default=None, help="hub revision of --clip-model")
    ci.add_argument("--metrics-backend", choices=("auto", "reference", "fast"), default="auto",
                    help="as compare's (the same numbers either way)")
    p.set_defaults(func=run)


def run_ci_data(args: argparse.Namespace) -> int:
    """``audit --ci-data``: the engine-vs-official table; nothing written until all is measured."""
    from gt_gen.atomic import write_json, write_text
    from gt_gen.audit import SEVERITY, markdown, table, to_json
    from gt_gen.audit_cidata import measure
    from gt_gen.cases import load_registry
    from gt_gen.commands.common import require_local
    from gt_gen.errors import UsageError
    from gt_gen.reports.audit_html import render_page
    from gt_gen.store.sources import open_source
    from gt_gen.thresholds import load_thresholds
    from gt_gen.writable import check_out_dir

    mixed = [o for o, v in (("--controls", args.controls), ("--history", args.history),
                            ("--write-proposal", args.write_proposal),
                            ("--floor-results", args.floor_results),
                            ("--negative-results", args.negative_results)) if v]
    if mixed:
        raise UsageError(f"--ci-data audits the gates against the ci-data's own GT; {', '.join(mixed)} "
                         "belong to the registry audit: run them separately")
    th = load_thresholds(args.thresholds, args.platform)
    reg = load_registry(args.cases_dir)
    cases = reg.cases if args.group == "all" else reg.select(group=args.group)
    if args.out:
        check_out_dir(args.out, ["audit.json", "audit.md", "audit.html"], what="audit output")
    require_local(args.ci_data, "--ci-data", "folder or git repository")
    source = open_source(args.source_kind, args.ci_data, args.ref)
    audit = measure(source, th, list(cases), platform=th.platform, ids=args.case_ids or None,
                    require_manifest=args.require_manifest, clip_model=args.clip_model,
                    clip_revision=args.clip_revision, metrics_backend=args.metrics_backend)
    md = markdown(audit)
    print(md if args.out is None else table(audit), end="")
    if args.out:
        data = to_json(audit)
        write_json(Path(args.out) / "audit.json", data)
        write_text(Path(args.out) / "audit.md", md)
        write_text(Path(args.out) / "audit.html", render_page(data))
        print(f"audit written to {args.out}/audit.json, audit.md, audit.html")
    worst = audit.worst_severity()
    if args.fail_on == "never" or worst is None:
        return 0
    return 1 if SEVERITY[worst] >= SEVERITY[args.fail_on] else 0


def _json_text(obj: object) -> str:
    """``obj`` as :func:`gt_gen.atomic.write_json` writes it (strict: NaN or infinity is an
    error, named, before anything is written)."""
    import json

    from gt_gen.errors import ConfigError

    try:
        return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except ValueError as exc:
        raise ConfigError(f"cannot write the audit: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from gt_gen.atomic import write_text
    from gt_gen.audit import (SEVERITY, check_proposal_path, load_controls, markdown, proposal,
                              run_audit, table, to_json)
    from gt_gen.cases import load_registry
    from gt_gen.errors import UsageError
    from gt_gen.thresholds import load_thresholds
    from gt_gen.writable import check_out_dir, check_writable

    if args.ci_data:
        return run_ci_data(args)
    if args.last < 1:
        raise UsageError(f"--last must be ≥ 1, got {args.last}")
    if args.case_ids or args.ref:
        raise UsageError("--case and --ref go with --ci-data")
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
    if args.floor_results or args.negative_results:
        from gt_gen.audit import controls_from_results

        controls = controls_from_results(controls, floors=args.floor_results,
                                         negatives=args.negative_results)
    audit = run_audit(cases, th, controls=controls, history_db=args.history, last=args.last,
                      platform=th.platform, known_ids={c.id for c in reg.cases})
    print(table(audit), end="")
    md = markdown(audit)
    # Every file's text first, then the writes: a file that cannot be encoded leaves none of
    # them half done (the proposal's numbers come from inputs).
    texts: list[tuple[Path, str]] = []
    if args.out:
        texts += [(Path(args.out) / "audit.json", _json_text(to_json(audit))), (Path(args.out) / "audit.md", md)]
    if args.write_proposal:
        texts.append((Path(args.write_proposal), _json_text(proposal(th, audit))))
    for path, text in texts:
        write_text(path, text)
    if args.write_proposal:
        print(f"proposal written to {args.write_proposal}")
    worst = audit.worst_severity()
    if args.fail_on == "never" or worst is None:
        return 0
    return 1 if SEVERITY[worst] >= SEVERITY[args.fail_on] else 0
