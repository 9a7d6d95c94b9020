"""Git source: branches resolve to commits; a pinned commit is served without network."""

from __future__ import annotations

from pathlib import Path

import pytest

from gt_gen.errors import GitError
from gt_gen.store.git_source import GitSource
from gt_gen.store.source import Presence
from tests.gitrepos import bare_with_commits


def make_repo(tmp_path: Path) -> tuple[Path, str, str]:
    bare, (first, second) = bare_with_commits(tmp_path, [{"a.txt": "one"}, {"a.txt": "two"}])
    return bare, first, second


def test_branch_resolves_and_pinned_commit_needs_no_network(tmp_path: Path) -> None:
    bare, first, second = make_repo(tmp_path)
    cache = tmp_path / "cache"
    src = GitSource(str(bare), "main", cache)
    assert src.commit == second and src.read_bytes("a.txt") == b"two"
    old = GitSource(str(bare), first, cache)
    assert old.read_bytes("a.txt") == b"one"
    again = GitSource(str(bare), first, cache)
    assert again.probe("a.txt") is Presence.PRESENT and again.probe("b.txt") is Presence.MISSING
    assert again.read_bytes("a.txt") == b"one"
    assert again.network_ops == 0


def test_unknown_ref_is_an_error(tmp_path: Path) -> None:
    bare, _, _ = make_repo(tmp_path)
    with pytest.raises(GitError, match="cannot fetch ref"):
        GitSource(str(bare), "no-such-branch", tmp_path / "cache")
    with pytest.raises(GitError, match="not found"):
        GitSource(str(bare), "b" * 40, tmp_path / "cache")


@pytest.mark.parametrize("remote", ["http://127.0.0.1:9/ci-data.git", "gone"])
def test_an_unreachable_remote_is_blamed_not_the_commit(tmp_path: Path, remote: str) -> None:
    """A pinned commit from a remote that does not answer (a refused connection, a vanished
    repository): the error says the remote could not be reached, never that the commit is not
    in it (which would send a user hunting for a wrong SHA)."""
    where = remote if "://" in remote else f"file://{tmp_path / remote}.git"
    with pytest.raises(GitError) as got:
        GitSource(where, "b" * 40, tmp_path / "cache")
    assert "cannot reach" in str(got.value) and "not found" not in str(got.value)


def test_source_kind_detection(tmp_path: Path) -> None:
    from gt_gen.store.sources import detect_kind

    bare, _, _ = make_repo(tmp_path)
    assert detect_kind(str(bare)) == "git"
    assert detect_kind(str(tmp_path / "w")) == "dir"  # a checkout, read as it is
    assert detect_kind(str(tmp_path / "w"), "main") == "git"
    assert detect_kind("https://raw.example.com/org/ci-data") == "http"
    assert detect_kind("https://github.com/org/ci-data.git") == "git"


@pytest.mark.parametrize("branch", ["gt/local", "gt/feature-x"])
def test_missing_ref_names_the_branches_there_are(tmp_path: Path, branch: str) -> None:
    """`publish` without --source-ref commits to gt/local (a non-main ref to gt/<name>): a
    `fetch --ref main` there says which branches exist and which one to try."""
    from gt_gen import gitutil

    bare, _, _ = make_repo(tmp_path)
    gitutil.git("push", "-q", str(bare), f"main:{branch}", cwd=tmp_path / "w")
    gitutil.git("branch", "-D", "main", cwd=bare)
    with pytest.raises(GitError) as err:
        GitSource(str(bare), "main", tmp_path / "cache")
    msg = str(err.value)
    assert f"its branches: {branch}" in msg and f"--ref {branch}" in msg


def test_a_mirror_left_half_made_is_made_again(tmp_path: Path) -> None:
    """A fetch killed between `git init` and configuring the remote used to leave a mirror
    every later run failed on ("cannot reach"); such a mirror (and a half-made one beside it)
    is now made again, and a whole mirror is only ever put in place by one rename."""
    import subprocess

    bare, _, second = make_repo(tmp_path)
    cache = tmp_path / "cache"
    src = GitSource(str(bare), "main", cache)
    mirror = src.mirror
    subprocess.run(["git", "config", "--unset", "remote.origin.url"], cwd=mirror, check=True)
    again = GitSource(str(bare), "main", cache)  # the remote-less mirror of a killed run
    assert again.commit == second and again.read_bytes("a.txt") == b"two"
    assert not list(mirror.parent.glob(mirror.name + ".new-*"))  # nothing left beside it
    # The mirror of another remote under this name (a hash collision, or edited by hand).
    subprocess.run(["git", "config", "remote.origin.url", str(tmp_path / "elsewhere")], cwd=mirror, check=True)
    assert GitSource(str(bare), second, cache).read_bytes("a.txt") == b"two"
