"""Local git remotes for tests: a bare repository with a few commits on ``main``."""

from __future__ import annotations

from pathlib import Path

from gt_gen import gitutil


def bare_with_commits(tmp_path: Path, commits: list[dict[str, str]], name: str = "remote.git") -> tuple[Path, list[str]]:
    """A bare repo whose ``main`` has one commit per dict (file name -> text); their shas."""
    bare = tmp_path / name
    gitutil.git("init", "-q", "--bare", str(bare))
    work = tmp_path / "w"
    gitutil.git("init", "-q", "-b", "main", str(work))
    shas = []
    for i, files in enumerate(commits):
        for fname, text in files.items():
            (work / fname).write_text(text)
        gitutil.git("add", "-A", cwd=work)
        gitutil.git("commit", "-qm", str(i + 1), cwd=work)
        shas.append(gitutil.out("rev-parse", "HEAD", cwd=work))
    gitutil.git("push", "-q", str(bare), "main", cwd=work)
    return bare, shas
