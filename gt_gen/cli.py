"""``gt-gen`` command line: one module per command, exit codes mapped here only.

Exit codes: 0 all passed / done; 1 a gate failed (or a case failed to generate);
2 bad input or usage; 3 an internal error (a bug: rerun with ``--debug`` and report it).
Errors print one redacted line; the traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gt_gen import __version__
from gt_gen.errors import GtGenError
from gt_gen.redact import redact

COMMANDS = ("cases_cmd", "thresholds_cmd", "compare_cmd", "generate_cmd", "fetch_cmd",
            "publish_cmd", "candidates_cmd", "controls_cmd", "audit_cmd", "report_cmd",
            "history_cmd")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="gt-gen", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gt-gen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"gt_gen.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"gt_gen.commands.{name}":
                continue  # command not shipped in this build
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except GtGenError as exc:
        if args.debug:
            raise
        print(f"gt-gen: error: {redact(exc.one_line())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gt-gen: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if args.debug:
            raise
        print(f"gt-gen: error: {redact(' '.join(str(exc).split()))}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: one line, traceback with --debug
        if args.debug:
            raise
        print(f"gt-gen: internal error: {type(exc).__name__}: "
              f"{redact(' '.join(str(exc).split()))} (rerun with --debug)", file=sys.stderr)
        return 3
