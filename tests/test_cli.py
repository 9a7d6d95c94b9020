"""Exit codes are mapped in one place; one redacted line, the traceback only with --debug."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from gt_gen import cli
from gt_gen.commands import cases_cmd
from gt_gen.errors import ConfigError, GtGenError, QualityGateError, UnknownCaseError

TOKEN = "hf_SeCrEtToKeN1234567890"


def boom(exc: BaseException):
    def run(args):
        raise exc
    return run


@pytest.mark.parametrize(("exc", "code", "prefix"), [
    (ConfigError("bad file", path="x.toml"), 2, "gt-gen: error: x.toml: bad file"),
    (QualityGateError("frame mid is near-blank"), 1, "gt-gen: error: frame mid"),
    (UnknownCaseError("unknown case id 'nope'"), 2, "gt-gen: error: unknown case id 'nope'"),
    (FileNotFoundError(2, "No such file", "gt/a.png"), 2, "gt-gen: error: gt/a.png: not found"),
    (PermissionError(13, "Permission denied", "o/r.json"), 2, "gt-gen: error: o/r.json: permission denied"),
    (IsADirectoryError(21, "Is a directory", "o/r.json"), 2, "gt-gen: error: o/r.json: is a directory"),
    (RuntimeError("a bug"), 3, "gt-gen: internal error: RuntimeError: a bug (rerun with --debug)"),
])
def test_exit_codes_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                             exc: BaseException, code: int, prefix: str) -> None:
    monkeypatch.setattr(cases_cmd, "run_list", boom(exc))
    assert cli.main(["cases", "list"]) == code
    err = capsys.readouterr().err
    assert err.startswith(prefix) and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(("exc", "code"), [
    (ConfigError("bad file", path="x.toml"), 2), (QualityGateError("near-blank"), 1),
    (OSError(28, "No space left on device", "o/f"), 2), (RuntimeError("a bug"), 3),
    (KeyError("k"), 3), (RecursionError("deep"), 3),
])
def test_debug_adds_the_traceback_and_keeps_the_exit_code(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, exc: BaseException,
        code: int) -> None:
    """--debug only adds the traceback: 2 stays 2 (it used to re-raise, and Python exits 1)."""
    monkeypatch.setattr(cases_cmd, "run_list", boom(exc))
    assert cli.main(["cases", "list"]) == code
    plain = capsys.readouterr().err
    assert cli.main(["--debug", "cases", "list"]) == code
    debug = capsys.readouterr().err
    assert "Traceback" in debug and "Traceback" not in plain
    assert debug.rstrip("\n").splitlines()[-1] == plain.strip()  # the same one line, last


def test_debug_traceback_is_redacted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(cases_cmd, "run_list", boom(RuntimeError(f"token {TOKEN}")))
    assert cli.main(["--debug", "cases", "list"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and TOKEN not in err


def test_os_errors_never_print_a_bare_errno(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    """Every errno gives a line naming the file(s) and what went wrong, never '[Errno N]'."""
    import errno

    for num in sorted(errno.errorcode):
        exc = OSError(num, os.strerror(num), "some/file", None, "other/file")
        monkeypatch.setattr(cases_cmd, "run_list", boom(exc))
        assert cli.main(["cases", "list"]) == 2
        err = capsys.readouterr().err
        assert "[Errno" not in err and "some/file" in err and err.count("\n") == 1, err
    monkeypatch.setattr(cases_cmd, "run_list", boom(BrokenPipeError(32, "Broken pipe")))
    assert cli.main(["cases", "list"]) == 2
    assert "broken pipe" in capsys.readouterr().err


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture) -> None:
    """argparse's errors too: one 'gt-gen: error:' line naming the command and option, exit 2."""
    for argv in (["compare"], ["cases", "matrix", "--group", "x", "--max-jobs", "many"],
                 ["frobnicate"], ["report"]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("gt-gen: error: gt-gen") and err.count("\n") == 1, err


def test_tokens_never_reach_the_error_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    for exc in (GtGenError(f"fetch of https://user:{TOKEN}@host/x failed"),
                ValueError(f"token {TOKEN} rejected"), OSError(f"cannot open {TOKEN}")):
        monkeypatch.setattr(cases_cmd, "run_list", boom(exc))
        cli.main(["cases", "list"])
        err = capsys.readouterr().err
        assert TOKEN not in err and "***" in err


def test_usage_error_and_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["compare"])  # argparse: missing required options
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("gt-gen ")


def test_real_command_error_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "th.json"
    bad.write_text(json.dumps({"cases": {"c": {"ssim_threshold": 2.0}}}))
    assert cli.main(["thresholds", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "ssim" in err


def test_missing_paths_are_named_for_what_they_are(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Issue 14 §5: a missing --repo, --source or thresholds FILE is said to be missing, by name,
    before any git runs (git used to blame the commit, or print only its last line)."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    gone = tmp_path / "gone"
    runs = {
        "publish_repo": ["publish", "--source", str(tmp_path), "--target", "sglang_generated",
                         "--repo", str(gone), "--group", "tiny"],
        "publish_source": ["publish", "--source", str(gone), "--target", "sglang_generated",
                           "--repo", str(tmp_path), "--group", "tiny"],
        "fetch_source": ["fetch", "--group", "tiny", "--source", str(gone) + ".git", "--ref", sha,
                         "--out", str(tmp_path / "out")],
        "compare_gt": ["compare", "--group", "tiny", "--gt", str(gone), "--ref", sha,
                       "--candidate", str(tmp_path), "--out", str(tmp_path / "out")],
        "thresholds": ["thresholds", "check", str(gone)],
    }
    for what, argv in runs.items():
        assert cli.main(argv) == 2, what
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(gone) in err and sha not in err, (what, err)
        assert "not found" in err or "no such" in err, (what, err)
        assert "--thresholds" not in err, (what, err)  # `thresholds check` has no such flag
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _blas_probe(code: str, env_extra: dict[str, str] | None = None) -> tuple[str, int]:
    """Runs ``code`` (which may call gt-gen's main), then imports numpy and reports the
    OPENBLAS_NUM_THREADS the process ended with and its thread count (OpenBLAS's workers are
    threads of the process, started at numpy's import)."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env.update(env_extra or {})
    probe = (f"{code}\nimport os, numpy\nnumpy.ones((64, 64)) @ numpy.ones((64, 64))\n"
             "print(os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parent.parent, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to count threads")
def test_numpys_blas_pool_is_one_thread_in_gt_gen_unless_the_user_chose() -> None:
    """OpenBLAS's spinning workers cost CPU on a small runner (cli.one_thread_blas): gt-gen's
    entry point keeps numpy's BLAS at one thread, respects a count the user set, and leaves
    a process that imported numpy before it alone."""
    import os

    run_main = ("import contextlib, io\nfrom gt_gen.cli import main\n"
                "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main(['--version'])\n"
                "    except SystemExit:\n        pass")
    value, threads = _blas_probe(run_main)
    assert value == "1" and threads == 1, (value, threads)
    if (os.cpu_count() or 1) >= 2:  # what it avoids: OpenBLAS's own workers
        plain_value, plain_threads = _blas_probe("")
        assert plain_value == "None" and plain_threads > 1, (plain_value, plain_threads)
    assert _blas_probe(run_main, {"OPENBLAS_NUM_THREADS": "2"})[0] == "2"
    first = "import numpy\n" + run_main
    assert _blas_probe(first)[0] == "None"
