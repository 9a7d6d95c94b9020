"""Every bad input is exit 2 with one clear line; nothing partial (issue 11 §3, "Done when").

The corpus (``tests/corpus.py``) is generated: families of bad inputs crossed with every
command that reads them. Each input runs through ``gt_gen.cli.main`` in-process under an
alarm (a hang fails the test instead of stalling it); FIFOs also run as real ``python -m
gt_gen`` subprocesses with a timeout. For each: the exit code is one the input allows (2, or
1 where a gate may fail) and never 3; stderr holds exactly one ``gt-gen: error:`` line, which
names the file, case or option (on exit 1, a gate verdict, the case is reported in
results.json instead), and no traceback; and on exit 2 no file under the input's folder or the
shared valid inputs was created, changed or removed.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from tests import corpus
from tests.conftest import REPO

SPECS = corpus.specs()
IN_PROCESS = [s for s in SPECS if not s.subprocess]
SUBPROCESS = [s for s in SPECS if s.subprocess]
#: Seconds one input may take before it counts as a hang.
TIMEOUT = 60
#: Exit codes seen, by input id (the summary test reports them).
SEEN: dict[str, int] = {}


class Hang(BaseException):
    """Raised by the alarm: the input did not finish within :data:`TIMEOUT` (a BaseException,
    so that the CLI's own mapping of exceptions cannot turn it into an exit code)."""


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> corpus.Base:
    # The heavy libraries are loaded before any input runs under the memory cap (mapping
    # libtorch needs address space of its own; a failed import there is not the input's fault).
    import importlib

    for mod in ("torch", "cv2", "av", "gt_gen.compare", "gt_gen.metrics.fast",
                "gt_gen.generate.runner", "gt_gen.controls", "gt_gen.store.publish"):
        importlib.import_module(mod)
    return corpus.Base(tmp_path_factory.mktemp("corpus-base"))


def snapshot(*roots: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``roots`` (not following links): kind, size and mtime."""
    out: dict[str, tuple[int, int, int]] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                out[p] = (stat.S_IFMT(st.st_mode), st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
                          st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else 0)
    return out


@contextmanager
def memory_cap(headroom: int = 4 << 30) -> Iterator[None]:
    """Cap this process's address space at its current size plus ``headroom`` for a while: a
    regression that reads ``/dev/zero`` to the end then fails with MemoryError (exit 3, a test
    failure) instead of taking the machine's memory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    vm = next(int(ln.split()[1]) * 1024 for ln in Path("/proc/self/status").read_text().splitlines()
              if ln.startswith("VmSize:"))
    cap = vm + headroom if hard == resource.RLIM_INFINITY else min(vm + headroom, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_in_process(argv: tuple[str, ...]) -> tuple[int, str]:
    """``gt_gen.cli.main(argv)`` with stdout/stderr captured, under an alarm and a memory cap."""
    from gt_gen import cli

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {TIMEOUT} s")

    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIMEOUT)
    try:
        with redirect_stdout(out), redirect_stderr(err), memory_cap():
            try:
                code = cli.main(list(argv))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, err.getvalue()


def check(spec_id: str, inp: corpus.Input, code: int, err: str) -> list[str]:
    """What is wrong with one run (empty: it kept every promise)."""
    problems = []
    if code not in inp.codes:
        problems.append(f"exit {code}, expected {inp.codes}")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("gt-gen: error:") or "internal error" in ln]
    if "--debug" not in inp.argv and "Traceback" in err:
        problems.append("a traceback without --debug")
    if code == 1 and not errors:
        pass  # a verdict (a gate failed), reported per case in results.json, not an error line
    elif len(errors) != 1:
        problems.append(f"{len(errors)} error lines, expected one")
    elif not any(n in errors[0] for n in inp.names):
        problems.append(f"the error line names none of {inp.names}")
    elif not all(a in errors[0] for a in inp.also):
        problems.append(f"the error line lacks one of {inp.also}")
    if problems:
        problems.append(f"argv: {' '.join(inp.argv)[:300]}")
        problems.append(f"stderr: {err[-1500:]}")
    return problems


@pytest.mark.parametrize("spec", IN_PROCESS, ids=[s.id for s in IN_PROCESS])
def test_bad_input(spec: corpus.Spec, base: corpus.Base, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    inp = spec.build(base, tmp_path)
    before = snapshot(tmp_path, base.root)
    try:
        code, err = run_in_process(inp.argv)
    except Hang:
        SEEN[spec.id] = -1
        pytest.fail(f"hangs: no answer within {TIMEOUT} s: {' '.join(inp.argv)[:300]}")
    SEEN[spec.id] = code
    problems = check(spec.id, inp, code, err)
    if code == 1 and "--out" in inp.argv:  # the verdict names the case or file
        out = Path(inp.argv[inp.argv.index("--out") + 1])
        record = next((out / n for n in ("results.json", "fetch.json") if (out / n).is_file()), None)
        if record is None or not any(n in record.read_text() for n in inp.names):
            problems.append(f"exit 1 but no results.json/fetch.json in {out} names {inp.names}")
    if code == 2:
        after = snapshot(tmp_path, base.root)
        changed = sorted(set(before.items()) ^ set(after.items()))
        if changed:
            problems.append(f"exit 2 but files changed: {[p for p, _ in changed][:5]}")
    assert not problems, "\n".join(problems)


def test_fifo_inputs_in_subprocesses(base: corpus.Base, tmp_path: Path) -> None:
    """FIFOs as real processes, all at once: a read that blocks would hang here, so each gets
    a timeout and is killed (and counted a hang) when it runs past it."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("GITHUB_OUTPUT", None)
    runs = []
    for i, spec in enumerate(SUBPROCESS):
        d = tmp_path / str(i)
        d.mkdir()
        inp = spec.build(base, d)
        proc = subprocess.Popen([sys.executable, "-m", "gt_gen", *inp.argv], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        runs.append((spec, inp, d, snapshot(d), proc))
    problems = []
    for spec, inp, d, before, proc in runs:
        try:
            _, err = proc.communicate(timeout=TIMEOUT * 2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            problems.append(f"{spec.id}: hangs (killed after {TIMEOUT * 2} s)")
            continue
        SEEN[spec.id] = proc.returncode
        problems += [f"{spec.id}: {p}" for p in check(spec.id, inp, proc.returncode, err)]
        if proc.returncode == 2 and snapshot(d) != before:
            problems.append(f"{spec.id}: exit 2 but files changed")
    assert len(SUBPROCESS) >= 5
    assert not problems, "\n".join(problems)


def test_corpus_size_and_every_command() -> None:
    """At least 150 inputs, reaching every command gt-gen has."""
    assert len(SPECS) >= 150
    commands = Counter()
    for s in SPECS:
        inp_cmd = s.id.split("/")[0]
        commands[inp_cmd] += 1
    reached = " ".join(commands)
    for cmd in ("cases_list", "thresholds_check", "generate", "publish", "fetch", "candidates",
                "compare", "controls", "audit", "report", "history_import", "matrix"):
        assert cmd in reached, cmd


def test_summary(capsys: pytest.CaptureFixture) -> None:
    """The exit codes seen (run last; prints a one-line summary)."""
    if not SEEN:
        pytest.skip("the corpus did not run in this session")
    counts = Counter(SEEN.values())
    with capsys.disabled():
        print(f"\nbad-input corpus: {len(SEEN)} input(s) run of {len(SPECS)}; exit codes "
              + ", ".join(f"{c}: {n}" for c, n in sorted(counts.items())))
    assert 3 not in counts and -1 not in counts  # -1: a hang
