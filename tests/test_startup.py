"""Start-up stays light: the commands a user runs to look around import no heavy library.

Measured by ``sys.modules`` in a fresh interpreter after the command ran, not by timing
(timing on a shared CI machine is noise): ``gt-gen --help`` used to import torch (3-4 s) for
a page of text. Heavy = torch, OpenCV, transformers, PyAV, diffusers; the light commands
also stay off numpy and requests, which is what keeps them under ~0.3 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

HEAVY = ("torch", "cv2", "transformers", "av", "diffusers")
ALSO_LIGHT = ("numpy", "requests")  # not heavy, but 0.1 s each: the light commands stay off them

PROBE = r"""
import json, sys
from gt_gen.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help / --version exit through argparse
    code = exc.code
roots = sorted({m.split(".")[0] for m in sys.modules})
print("\n@@" + json.dumps({"code": code, "modules": roots}))
"""


def imported(*argv: str) -> tuple[int, set[str]]:
    """Exit code of ``gt-gen ARGV`` in a fresh interpreter and the top-level modules it loaded."""
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_OUTPUT", "PYTHONSTARTUP")}
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)
    tail = proc.stdout.rsplit("\n@@", 1)
    assert len(tail) == 2, proc.stderr[-2000:]
    got = json.loads(tail[1])
    return int(got["code"] or 0), set(got["modules"])


LIGHT_COMMANDS = [
    ("--help",),
    ("--version",),
    ("cases", "list"),
    ("cases", "list", "--group", "tiny"),
    ("cases", "matrix", "--group", "all"),
    ("cases", "matrix", "--group", "ltx", "--max-jobs", "2"),
    ("thresholds", "check", str(REPO / "thresholds" / "consistency_threshold.json")),
    ("assets", "list"),
    ("assets", "verify"),
    ("assets", "pin", "--dry-run"),
]


@pytest.mark.parametrize("argv", LIGHT_COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_light_commands_import_nothing_heavy(argv: tuple[str, ...]) -> None:
    code, mods = imported(*argv)
    assert code == 0
    assert not mods & set(HEAVY), f"gt-gen {' '.join(argv)} imported {sorted(mods & set(HEAVY))}"
    assert not mods & set(ALSO_LIGHT), f"gt-gen {' '.join(argv)} imported {sorted(mods & set(ALSO_LIGHT))}"


def _commands() -> list[tuple[str, ...]]:
    """Every command and sub-command the parser knows (so a new command is covered too)."""
    import argparse

    from gt_gen.cli import build_parser

    out: list[tuple[str, ...]] = []

    def walk(p: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and prefix:
            out.append(prefix)
        for a in subs:
            for name, child in a.choices.items():
                walk(child, (*prefix, name))

    walk(build_parser(), ())
    return out


HELP_PROBE = r"""
import contextlib, io, json, sys
from gt_gen.cli import main
heavy = set(sys.argv[2:])
out = {}
for c in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main([*c, "--help"])
        except SystemExit:
            pass
    out[" ".join(c)] = sorted(heavy & {m.split(".")[0] for m in sys.modules})
print("\n@@" + json.dumps(out))
"""


def test_every_command_help_imports_nothing_heavy() -> None:
    """``gt-gen X --help`` of every (sub)command parses without the heavy libraries: each command
    imports its machinery inside ``run``. One interpreter walks them all, noting after each
    command what had been imported so far (the first offender is the one named)."""
    cmds = _commands()
    assert {"compare", "generate", "publish", "fetch"} <= {c[0] for c in cmds}
    proc = subprocess.run([sys.executable, "-c", HELP_PROBE, json.dumps(cmds), *HEAVY],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    tail = proc.stdout.rsplit("\n@@", 1)
    assert len(tail) == 2, proc.stderr[-2000:]
    got = json.loads(tail[1])
    assert set(got) == {" ".join(c) for c in cmds}
    bad = {c: mods for c, mods in got.items() if mods}
    assert not bad, f"--help imported heavy modules (first offender first): {bad}"


def _options() -> list[tuple[str, str, str | None]]:
    """(command, option, help) of every option and positional of every (sub)command."""
    import argparse

    from gt_gen.cli import build_parser

    out: list[tuple[str, str, str | None]] = []

    def walk(p: argparse.ArgumentParser, prefix: str) -> None:
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, child in a.choices.items():
                    walk(child, f"{prefix} {name}".strip())
            elif a.dest != "help":
                out.append((prefix or "gt-gen", "/".join(a.option_strings) or a.dest, a.help))

    walk(build_parser(), "")
    return out


def test_every_option_has_help_text() -> None:
    opts = _options()
    assert {("publish", "--source-ref"), ("compare", "--platform"), ("cases list", "--cases")} <= {
        (c, o) for c, o, _ in opts}
    missing = [f"{c} {o}" for c, o, h in opts if not (h or "").strip()]
    assert not missing, f"options without help text: {missing}"


def test_top_level_help_is_written_for_users() -> None:
    code, _ = imported("--help")
    assert code == 0
    from tests.conftest import run_cli

    out = run_cli("--help").stdout
    assert "A typical run" in out and "gt-gen compare" in out and "exit codes" in out
    assert "one module per command" not in out  # the developer's docstring stays in the code


def test_fast_metrics_on_cpu_with_the_c_kernel_import_no_torch() -> None:
    """A CPU compare with the C kernel must not pay torch's start-up (issue 14)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from gt_gen.metrics import fast\n"
            "if not fast.native_available(): print('skip'); raise SystemExit\n"
            "a = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)\n"
            "fast.batch_metrics(a, a[::-1].copy())\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() in ("False", "skip")
