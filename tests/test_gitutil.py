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
