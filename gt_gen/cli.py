"""``gt-gen`` command line: one module per command, exit codes mapped here only.

Exit codes: 0 all passed / done; 1 a gate failed (or a case failed to generate);
2 bad input or usage; 3 an internal error (a bug: rerun with ``--debug`` and report it).
Errors print one redacted line; the traceback only with ``--debug``.

Start-up stays light: this module and every command module import at top level only what
their argument parsers need (no torch, cv2, transformers, av, diffusers); each command
imports its heavy machinery inside its ``run`` (tests/test_startup.py holds that).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from gt_gen import __version__
from gt_gen.redact import redact

COMMANDS = ("cases_cmd", "thresholds_cmd", "compare_cmd", "generate_cmd", "fetch_cmd",
            "publish_cmd", "candidates_cmd", "controls_cmd", "audit_cmd", "report_cmd",
            "history_cmd", "convert_cmd", "trace_cmd", "assets_cmd")


DESCRIPTION = """\
Ground truth (GT) for video and image diffusion models, made by the models' official
pipelines, and the consistency gate that holds an inference engine (sglang) to it.

A typical run:
  gt-gen cases list                                 the cases (cases/<group>.toml)
  gt-gen generate --group G --out gt/               GT from the official pipelines
  gt-gen publish --source gt/ --target official_generated --repo CI_DATA
  gt-gen candidates --server URL --group G --out cand/   the engine's outputs
  gt-gen compare --group G --gt CI_DATA --ref SHA --candidate cand/ --out out/
  gt-gen report out/results.json --html out/html    one HTML page
Run `gt-gen COMMAND --help` for each command's options."""

EPILOG = """\
exit codes: 0 passed / done, 1 a gate failed (or a case failed to generate),
2 bad input, usage, or a GT source that cannot be reached, 3 internal error (rerun with --debug)"""


class _Parser(argparse.ArgumentParser):
    """argparse with gt-gen's error form: one line naming the command and the option, exit 2
    (the full usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"gt-gen: error: {self.prog}: {' '.join(message.split())} "
                     f"(see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(prog="gt-gen", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gt-gen {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the full traceback instead of one line")
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


def one_thread_blas() -> None:
    """numpy's OpenBLAS at one thread, unless the user chose a count or numpy is already in.

    Why: at import OpenBLAS starts a worker per core, and after each call they busy-wait
    (sched_yield) for a while. gt-gen does no numpy BLAS work that threads would speed up (its
    heavy numerics are its C kernel, FFmpeg and torch, which has its own pool), but on a 2-core
    runner those spinning workers took 0.12 CPU-s at numpy's import alone and 8% of a 10-case
    whole-video compare's CPU (issue 14: per-case costs). Read once, at OpenBLAS's start: it
    must be set before numpy is imported, so here, before any command runs."""
    import os

    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every outcome is an exit code (0 / 1 gate / 2 bad input / 3 bug).

    ``--debug`` adds the traceback above the same one line and never changes the exit code:
    a CI step must fail the same way whether or not someone turned on debugging."""
    one_thread_blas()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("gt-gen: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # mapped in one place: errors.exit_code_and_line
        from gt_gen.errors import exit_code_and_line

        code, line = exit_code_and_line(exc)
        if args.debug:
            import traceback

            print(redact("".join(traceback.format_exception(exc))), end="", file=sys.stderr)
        print(redact(line), file=sys.stderr)
        return code
