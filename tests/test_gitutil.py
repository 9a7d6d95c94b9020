"""git wrapper: failures are one redacted GitError line; nothing prompts for credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from gt_gen import gitutil
from gt_gen.errors import GitError

TOKEN = "ghp_NotARealToken0123456789"


def test_out_and_failure(tmp_path: Path) -> None:
    gitutil.git("init", "-q", "-b", "main", str(tmp_path / "r"))
    assert gitutil.out("symbolic-ref", "--short", "HEAD", cwd=tmp_path / "r") == "main"
    with pytest.raises(GitError, match="git rev-parse failed"):
        gitutil.out("rev-parse", "--verify", "nope^{commit}", cwd=tmp_path / "r")
    assert gitutil.git("rev-parse", "--verify", "nope", cwd=tmp_path / "r", check=False).returncode != 0


def test_credentials_are_redacted(tmp_path: Path) -> None:
    url = f"https://x-access-token:{TOKEN}@127.0.0.1:9/ci-data.git"  # port 9: refused at once
    with pytest.raises(GitError) as info:
        gitutil.git("ls-remote", url, timeout=60)
    assert TOKEN not in str(info.value) and "git ls-remote failed" in str(info.value)


def test_timeout_is_a_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="timed out"):
        gitutil.git("hash-object", "--stdin", timeout=0.000001, input=b"x" * 10)


def test_auth_env_only_for_https_and_only_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    monkeypatch.delenv("GT_GEN_TOKEN", raising=False)
    monkeypatch.delenv("CI_DATA_TOKEN", raising=False)
    assert gitutil.auth_env("https://github.com/o/ci-data.git") == {}
    monkeypatch.setenv("CI_DATA_TOKEN", TOKEN)
    env = gitutil.auth_env("https://github.com/o/ci-data.git")
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert base64.b64decode(env["GIT_CONFIG_VALUE_0"].split()[-1]).decode() == f"x-access-token:{TOKEN}"
    assert gitutil.auth_env("/srv/ci-data.git") == {} and gitutil.auth_env("git@github.com:o/r.git") == {}


@pytest.mark.parametrize("stderr,want", [
    ("fatal: 'x' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\n"
     "Please make sure you have the correct access rights\nand the repository exists.\n",
     "fatal: 'x' does not appear to be a git repository | fatal: Could not read from remote repository."),
    ("remote: policy: GT pushes are frozen\nTo hook.git\n ! [remote rejected] HEAD -> main (pre-receive hook declined)\n"
     "error: failed to push some refs to 'hook.git'\n",
     "remote: policy: GT pushes are frozen | ! [remote rejected] HEAD -> main (pre-receive hook declined) | "
     "error: failed to push some refs to 'hook.git'"),
    ("some advice only\n", "some advice only"),
    ("", "exit 128"),
])
def test_reason_keeps_the_cause_not_the_advice(stderr: str, want: str) -> None:
    """git's last line is often advice ("...and the repository exists."): the cause lines are kept."""
    assert gitutil.reason(stderr.encode(), 128) == want
