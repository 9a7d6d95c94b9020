"""Publish GT to the ci-data repository: quality gate, then one commit, pushed with retry.

The target repository is only ever changed by ``git push``, whose ref update is atomic: a
publisher killed at any point leaves the branch at the old commit or the new one. On a
non-fast-forward rejection (another publisher landed first) we fetch the new tip, re-apply
our files and re-merge ``case_map.json`` / ``manifest.json`` onto it (a semantic rebase that
cannot conflict), and push again, a bounded number of times.

Branch policy: a run from the engine's ``main`` publishes to ``main``; any other source ref
publishes to an isolated ``gt/<name>`` branch, unless ``--branch`` says otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gt_gen import gitutil
from gt_gen.cases import Case
from gt_gen.errors import GitError, QualityGateError, UsageError
from gt_gen.frames import read_image
from gt_gen.naming import expected_outputs, key_frame_names, video_name
from gt_gen.redact import redact
from gt_gen.store.integrity import MANIFEST
from gt_gen.store.layout import CASE_MAP, dump_case_map, folder, parse_case_map
from gt_gen.store.quality import QualityReport, check_case


@dataclass
class Provenance:
    source_ref: str = ""
    source_sha: str = ""
    torch: str = ""
    run_url: str = ""


@dataclass
class PublishResult:
    branch: str
    commit: str | None
    reports: list[QualityReport] = field(default_factory=list)
    attempts: int = 0
    changed: bool = True


def branch_for(source_ref: str, explicit: str | None) -> str:
    """``main`` from the engine's main; else ``gt/<name>``; an explicit branch wins."""
    if explicit:
        return explicit
    ref = source_ref.removeprefix("refs/heads/")
    if ref in ("main", ""):
        return "main" if ref == "main" else "gt/local"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", ref.removeprefix("refs/").removeprefix("pull/")).strip("-.")
    return f"gt/{name or 'unnamed'}"


def load_outputs(source: Path, case: Case) -> dict[str, np.ndarray]:
    """The key frames (or image) of ``case`` in the generate output folder ``source``."""
    if case.modality == "video":
        return {k: read_image(source / n) for k, n in key_frame_names(case).items()
                if (source / n).is_file()}
    name = expected_outputs(case)[0]
    return {"first": read_image(source / name)} if (source / name).is_file() else {}


class Publisher:
    """One publish of some cases' GT into ``target[/platform]`` on ``branch`` of ``repo``."""

    def __init__(self, repo: str, branch: str, target: str, platform: str | None,
                 provenance: Provenance, *, attempts: int = 5) -> None:
        self.repo = str(Path(repo).resolve()) if Path(repo).exists() else repo
        self.branch, self.platform = branch, platform
        self.folder = folder(target, platform)
        self.prov = provenance
        self.attempts = attempts
        self.env = gitutil.auth_env(self.repo)

    def _git(self, *args: str, cwd: Path, check: bool = True):
        return gitutil.git(*args, cwd=cwd, check=check, extra_env=self.env)

    def _checkout(self, work: Path) -> bool:
        """Clone the branch (or its base) into ``work``; True if the branch exists remotely."""
        self._git("init", "-q", str(work), cwd=work.parent)
        self._git("remote", "add", "origin", self.repo, cwd=work)
        return self._sync(work)

    def _sync(self, work: Path) -> bool:
        if self._git("fetch", "-q", "origin", f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}",
                     cwd=work, check=False).returncode == 0:
            self._git("checkout", "-q", "-B", self.branch, f"origin/{self.branch}", cwd=work)
            self._git("reset", "-q", "--hard", f"origin/{self.branch}", cwd=work)
            self._git("clean", "-qfdx", cwd=work)
            return True
        # A new branch starts from the remote's main when there is one (gt/* carry all GT).
        if self._git("fetch", "-q", "origin", "+refs/heads/main:refs/remotes/origin/main",
                     cwd=work, check=False).returncode == 0:
            self._git("checkout", "-q", "-B", self.branch, "origin/main", cwd=work)
        else:
            self._git("checkout", "-q", "--orphan", self.branch, cwd=work)
        return False

    def previous(self, work: Path, case: Case) -> dict[str, np.ndarray] | None:
        d = work / self.folder
        got = {}
        for key, name in (key_frame_names(case).items() if case.modality == "video"
                          else [("first", expected_outputs(case)[0])]):
            if (d / name).is_file():
                got[key] = read_image(d / name)
        return got or None

    def _apply(self, work: Path, source: Path, cases: list[Case]) -> None:
        d = work / self.folder
        d.mkdir(parents=True, exist_ok=True)
        cmap = parse_case_map((d / CASE_MAP).read_bytes(), str(d / CASE_MAP)) if (d / CASE_MAP).is_file() else {}
        manifest = json.loads((d / MANIFEST).read_text()) if (d / MANIFEST).is_file() else {}
        files = manifest.get("files", {})
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        for case in cases:
            names = expected_outputs(case)
            # The GT mp4 travels too (manifest only, not case_map, which keeps sglang's shape):
            # whole-video compares read it back through any source.
            video = [video_name(case)] if case.modality == "video" and (source / video_name(case)).is_file() else []
            for name in [*names, *video]:
                data = (source / name).read_bytes()
                (d / name).write_bytes(data)
                files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "case": case.id,
                               "source_ref": self.prov.source_ref, "source_sha": self.prov.source_sha,
                               "torch": self.prov.torch, "run_url": self.prov.run_url, "published": now}
            cmap[case.id] = names
        (d / CASE_MAP).write_text(dump_case_map(cmap))
        (d / MANIFEST).write_text(json.dumps({"schema_version": 1, "files": dict(sorted(files.items()))},
                                             indent=2, sort_keys=True) + "\n")

    def _message(self, cases: list[Case]) -> str:
        p = self.prov
        return (f"gt-gen: publish {len(cases)} case(s) to {self.folder}\n\n"
                + "".join(f"case: {c.id}\n" for c in cases)
                + f"source-ref: {p.source_ref}\nsource-sha: {p.source_sha}\n"
                  f"torch: {p.torch}\nrun-url: {p.run_url}\n")

    @staticmethod
    def _video(source: Path, case: Case) -> Path | None:
        p = source / video_name(case)
        return p if case.modality == "video" and p.is_file() else None

    def publish(self, source: Path, cases: list[Case], *, check_only: bool = False,
                allow_drift: bool = False) -> PublishResult:
        with tempfile.TemporaryDirectory(prefix="gt-gen-publish-") as tmp:
            work = Path(tmp) / "repo"
            work.mkdir()
            self._checkout(work)
            reports = [check_case(c, load_outputs(source, c), self.previous(work, c),
                                  allow_drift=allow_drift, video=self._video(source, c)) for c in cases]
            bad = [r for r in reports if not r.ok]
            if bad:
                raise QualityGateError("quality gate rejected " + "; ".join(
                    f"{r.case_id}: {', '.join(r.problems)}" for r in bad))
            if check_only:
                return PublishResult(self.branch, None, reports, 0, changed=False)
            for attempt in range(1, self.attempts + 1):
                self._apply(work, source, cases)
                self._git("add", "-A", self.folder, cwd=work)
                if self._git("diff", "--cached", "--quiet", cwd=work, check=False).returncode == 0:
                    head = self._git("rev-parse", "HEAD", cwd=work, check=False)
                    return PublishResult(self.branch, head.stdout.decode().strip() or None, reports,
                                         attempt, changed=False)
                self._git("commit", "-q", "-m", self._message(cases), cwd=work)
                push = self._git("push", "-q", "origin", f"HEAD:refs/heads/{self.branch}",
                                 cwd=work, check=False)
                if push.returncode == 0:
                    commit = gitutil.out("rev-parse", "HEAD", cwd=work)
                    return PublishResult(self.branch, commit, reports, attempt)
                err = push.stderr.decode(errors="replace")
                if not re.search(r"non-fast-forward|fetch first|cannot lock ref|failed to update ref|incorrect old value", err):
                    raise GitError(redact(f"git push failed: {err.strip().splitlines()[-1] if err.strip() else push.returncode}"))
                self._sync(work)  # another publisher landed: re-apply on the new tip
            raise GitError(f"push still rejected after {self.attempts} attempts (busy branch "
                           f"{self.branch}); rerun the publish")


def case_selection_from_manifest(source: Path) -> list[str]:
    """Cases that ``gt-gen generate`` wrote successfully into ``source``."""
    m = source / "manifest.json"
    if not m.is_file():
        return []
    data = json.loads(m.read_text())
    return sorted(cid for cid, e in data.get("cases", {}).items() if e.get("status") == "ok")


def require_cases(ids: list[str]) -> None:
    if not ids:
        raise UsageError("nothing to publish: no successful cases in the source manifest and "
                         "no --group/--case given")
