"""Options shared by several commands (cases dir, group/case selection, thresholds)."""

from __future__ import annotations

import argparse

from gt_gen.cases import Case, Registry, load_registry


def add_weights(p: argparse.ArgumentParser) -> None:
    """Where full-profile weights come from: shared by generate, convert and trace so the three
    resolve a case's weights alike."""
    import os

    p.add_argument("--weights-dir", default=os.environ.get("GT_GEN_WEIGHTS_DIR"),
                   help="local files overriding hub downloads (DIR/<file>, DIR/<repo>/<file>; "
                        "default: $GT_GEN_WEIGHTS_DIR)")
    p.add_argument("--allow-unpinned", action="store_true",
                   help="accept non-commit hub revisions (the resolved commit is recorded)")


def add_selection(p: argparse.ArgumentParser, *, group_required: bool = False) -> None:
    p.add_argument("--cases", dest="cases_dir", default=None,
                   help="folder of <group>.toml case files (default: the cases shipped with gt-gen)")
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


def is_remote(spec: str) -> bool:
    """A URL (``scheme://``) or scp-like git remote (``user@host:path``), not a local path."""
    import re

    return "://" in spec or bool(re.match(r"^[\w.-]+@[\w.-]+:", spec))


def require_local(spec: str, option: str, what: str) -> None:
    """A local ``spec`` that does not exist is one line naming it, before any git or network
    (git would otherwise blame the ref: "commit ... not found")."""
    from pathlib import Path

    from gt_gen.errors import MissingFileError

    if spec and not is_remote(spec) and not Path(spec).exists():
        raise MissingFileError(f"{option} {spec}: no such {what} (neither an existing local path "
                               "nor a URL)", path=spec)


def quiet_libraries() -> None:
    """``--quiet``: the libraries under the pipelines keep their warnings to themselves.

    transformers warns on every run of the official pipelines ("Using a slow image processor
    as `use_fast` is unset ..."), which a quiet run must not print; errors still reach the user
    through gt-gen's own one-line messages. Set before the libraries are imported (their
    loggers read the variables then), and applied directly to any already imported."""
    import logging
    import os
    import sys
    import warnings

    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["DIFFUSERS_VERBOSITY"] = "error"
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for name in ("transformers", "diffusers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:
        sys.modules["transformers"].logging.set_verbosity_error()
    if "diffusers" in sys.modules:
        sys.modules["diffusers"].logging.set_verbosity_error()
    warnings.filterwarnings("ignore", module=r"(transformers|diffusers|huggingface_hub)(\.|$)")
