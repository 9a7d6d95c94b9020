"""Exit codes are mapped in one place; one redacted line, the traceback only with --debug."""

from __future__ import annotations

import json
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
    (FileNotFoundError(2, "No such file", "gt/a.png"), 2, "gt-gen: error: [Errno 2]"),
    (RuntimeError("a bug"), 3, "gt-gen: internal error: RuntimeError: a bug (rerun with --debug)"),
])
def test_exit_codes_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                             exc: BaseException, code: int, prefix: str) -> None:
    monkeypatch.setattr(cases_cmd, "run_list", boom(exc))
    assert cli.main(["cases", "list"]) == code
    err = capsys.readouterr().err
    assert err.startswith(prefix) and err.count("\n") == 1 and "Traceback" not in err


def test_debug_reraises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cases_cmd, "run_list", boom(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["--debug", "cases", "list"])


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
