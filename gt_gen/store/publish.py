"""Publish GT to the ci-data repository: quality gate, then one commit, pushed with retry.

The target repository is only ever changed by ``git push``, whose ref update is atomic: a
publisher killed at any point leaves the branch at the old commit or the new one. On a
non-fast-forward rejection (another publisher landed first) we fetch the new tip, re-apply
our files and re-merge ``case_map.json`` / ``manifest.json`` onto it (a semantic rebase that
cannot conflict), and push again, a bounded number of times.

Branch policy: a run from the engine's ``main`` publishes to ``main``; any other source ref
publishes to an isolated ``gt/<name>`` branch, unless ``--branch`` says otherwise.

Before anything is written, every file to publish is read once and checked against the
source's generate ``manifest.json``: GT edited after ``generate`` is refused, naming the file,
and the bytes checked are the bytes the quality gate sees and the commit carries.
Republishing identical GT is a no-op: a file whose sha256 is unchanged keeps its manifest
entry (timestamp and provenance included), so nothing changes and nothing is committed.

Which implementation made the GT (:mod:`gt_gen.store.provenance`) travels into each case_map
entry written and each manifest file; GT of another implementation already in the folder is
never replaced silently (refused before the quality gate, on every attempt's tip again)
unless ``replace_implementation``. A case's GT files that this publish does not write (a
sglang ``.jpg`` beside gt-gen's ``.png``, which sglang's lookup would read first; a stale GT
video) are removed with it, so the folder never holds GT of two makers for one case.

Work clones live in ``$TMPDIR/gt-gen-publish-<pid>-*``; a publisher killed with SIGKILL
cannot remove its own, so each publish first sweeps those whose process is gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gt_gen import gitutil, jsonio
from gt_gen.cases import Case
from gt_gen.errors import ConfigError, GitError, IntegrityError, QualityGateError, UsageError
from gt_gen.frames import decode_image, read_image
from gt_gen.naming import expected_outputs, image_names, key_frame_names, video_name
from gt_gen.redact import redact
from gt_gen.store import credentials, provenance
from gt_gen.store.integrity import MANIFEST, PUBLISHED_BY, PUBLISHED_BY_KEY
from gt_gen.store.layout import CASE_MAP, folder, merge_case_map, raw_entries
from gt_gen.store.provenance import GtImplementation
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
    #: case id -> the implementation whose GT this publish replaced (--replace-implementation).
    replaced: dict[str, str] = field(default_factory=dict)


def branch_for(source_ref: str, explicit: str | None) -> str:
    """``main`` from the engine's main; else ``gt/<name>``; an explicit branch wins."""
    if explicit:
        return explicit
    ref = source_ref.removeprefix("refs/heads/")
    if ref in ("main", ""):
        return "main" if ref == "main" else "gt/local"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", ref.removeprefix("refs/").removeprefix("pull/")).strip("-.")
    return f"gt/{name or 'unnamed'}"


#: Largest GT file read for publishing (a full-size GT mp4 is tens of MB).
MAX_GT_FILE_BYTES = 2 * 1024**3
WORK_PREFIX = "gt-gen-publish-"
#: Work clones of an older gt-gen (no pid in the name) are swept once this old.
STALE_UNNAMED_S = 24 * 3600


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def sweep_stale_work_dirs(parent: Path | None = None) -> list[Path]:
    """Remove work clones left by publishers that were killed (their pid is gone).

    Only directories of this user named ``gt-gen-publish-<pid>-*`` whose process no longer
    runs are removed (and unnamed ones of older versions after a day); a live publisher's
    clone is never touched."""
    parent = Path(parent or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(parent.glob(f"{WORK_PREFIX}*"))
    except OSError:
        return removed
    for d in entries:
        try:
            st = d.lstat()
        except OSError:
            continue
        if d.is_symlink() or not d.is_dir() or st.st_uid != os.getuid():
            continue
        m = re.match(rf"{re.escape(WORK_PREFIX)}(\d+)-", d.name)
        stale = (not _pid_alive(int(m.group(1))) if m
                 else time.time() - st.st_mtime > STALE_UNNAMED_S)
        if stale:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


@contextlib.contextmanager
def work_dir():
    """A fresh work folder named for this process, removed on the way out (stale ones of
    killed publishers are swept first)."""
    sweep_stale_work_dirs()
    tmp = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_generate_manifest(source: Path) -> dict:
    """The ``cases`` object of ``source``'s generate manifest, strictly parsed."""
    mpath = source / MANIFEST
    if not mpath.is_file():
        raise IntegrityError(f"no {MANIFEST} in {source}: publish takes GT written by `gt-gen "
                             "generate`, whose manifest records the sha256 of every file", path=mpath)
    obj = jsonio.load_file(mpath, what="generate manifest")
    cases = obj.get("cases") if isinstance(obj, dict) else None
    if not isinstance(cases, dict) or not all(isinstance(e, dict) for e in cases.values()):
        raise ConfigError('not a `gt-gen generate` manifest: expected a "cases" object of '
                          "objects", path=mpath)
    return cases


def verified_outputs(source: Path, cases: list[Case],
                     entries: dict | None = None) -> dict[str, dict[str, bytes]]:
    """case id -> file name -> bytes of every file to publish, each read once and checked
    against the generate manifest (``entries``: its cases, read here if not given). A file
    absent from ``source`` is left out (the quality gate reports missing key frames); one that
    differs from, or is not in, the manifest is an :class:`IntegrityError` naming it."""
    entries = read_generate_manifest(source) if entries is None else entries
    mpath = source / MANIFEST
    out: dict[str, dict[str, bytes]] = {}
    for case in cases:
        names = expected_outputs(case) + ([video_name(case)] if case.modality == "video" else [])
        files = entries.get(case.id, {}).get("files")
        got: dict[str, bytes] = {}
        for name in names:
            path = source / name
            if not path.exists() and not path.is_symlink():
                continue
            data = jsonio.read_regular_bytes(path, max_bytes=MAX_GT_FILE_BYTES, what="GT file")
            want = files.get(name) if isinstance(files, dict) else None
            if not isinstance(want, str):
                raise IntegrityError(f"{path}: not listed for case {case.id} in {mpath}, so not "
                                     "written by `gt-gen generate`; refusing to publish it", path=path)
            digest = hashlib.sha256(data).hexdigest()
            if digest != want:
                raise IntegrityError(f"{path}: edited after `gt-gen generate` (sha256 {digest[:12]}…, "
                                     f"the manifest says {want[:12]}…); refusing to publish it — "
                                     "regenerate the case", path=path)
            got[name] = data
        out[case.id] = got
    return out


def load_outputs(source: Path, case: Case) -> dict[str, np.ndarray]:
    """The key frames (or image) of ``case`` in the generate output folder ``source``."""
    if case.modality == "video":
        return {k: read_image(source / n) for k, n in key_frame_names(case).items()
                if (source / n).is_file()}
    name = expected_outputs(case)[0]
    return {"first": read_image(source / name)} if (source / name).is_file() else {}


def decode_outputs(source: Path, case: Case, blobs: dict[str, bytes]) -> dict[str, np.ndarray]:
    """The key frames (or image) of ``case`` decoded from its verified bytes."""
    if case.modality == "video":
        return {k: decode_image(blobs[n], source / n) for k, n in key_frame_names(case).items()
                if n in blobs}
    name = expected_outputs(case)[0]
    return {"first": decode_image(blobs[name], source / name)} if name in blobs else {}


class Publisher:
    """One publish of some cases' GT into ``target[/platform]`` on ``branch`` of ``repo``."""

    def __init__(self, repo: str, branch: str, target: str, platform: str | None,
                 provenance: Provenance, *, attempts: int = 5) -> None:
        if Path(repo).exists():
            self.repo, user, password = str(Path(repo).resolve()), None, None
        else:
            self.repo, user, password = credentials.split_userinfo(repo)
            if (user is not None or password is not None) and not credentials.may_send(self.repo, self.repo):
                raise UsageError(f"credentials in the URL of {redact(repo)} would travel "
                                 "unencrypted: give an https:// URL (or set CI_DATA_TOKEN for it)")
        self.branch, self.platform, self.target = branch, platform, target
        self.folder = folder(target, platform)
        #: case id -> the implementation of the GT being published (set by :meth:`publish`).
        self.impls: dict[str, GtImplementation] = {}
        self.replace_implementation = False
        #: case id -> the implementation whose GT the last attempt replaced on purpose.
        self.replaced: dict[str, str] = {}
        self.prov = provenance
        self.attempts = attempts
        self.env = credentials.git_env(self.repo, user, password)

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
        """The GT this publish replaces, as the lookup reads it (an image: the first of
        sglang's ``.jpg``, ``.png``, ``.webp`` there), for the drift check."""
        d = work / self.folder
        got = {}
        if case.modality == "video":
            for key, name in key_frame_names(case).items():
                if (d / name).is_file():
                    got[key] = read_image(d / name)
        else:
            found = next((n for n in image_names(case) if (d / n).is_file()), None)
            if found is not None:
                got["first"] = read_image(d / found)
        return got or None

    def _folder_manifest(self, d: Path) -> dict:
        manifest = jsonio.loads((d / MANIFEST).read_bytes(), d / MANIFEST) if (d / MANIFEST).is_file() else {}
        files = manifest.get("files", {}) if isinstance(manifest, dict) else {}
        if not isinstance(files, dict):
            raise ConfigError("the ci-data manifest's \"files\" is not an object", path=d / MANIFEST)
        return files

    def _plan(self, work: Path, cases: list[Case]) -> dict[str, tuple[dict, GtImplementation | None]]:
        """Per case, the marks its case_map entry gets and the implementation it replaces on
        purpose (None: none); GT of another implementation without
        ``replace_implementation`` raises, naming the case and both implementations."""
        d = work / self.folder
        where = f"{self.folder}/{CASE_MAP}"
        cmap = (d / CASE_MAP).read_bytes() if (d / CASE_MAP).is_file() else None
        entries = raw_entries(cmap, where) if cmap is not None else {}
        files = self._folder_manifest(d)
        plan = {}
        for case in cases:
            present = [n for n in provenance.gt_file_names(case)
                       if (d / n).is_file() or (d / n).is_symlink()]
            new = self.impls.get(case.id) or GtImplementation(case.gt_source, "registry")
            old = provenance.existing(case, self.target, entries.get(case.id), files, present, where)
            replaced = provenance.decide(case, self.folder, old, new,
                                         replace=self.replace_implementation)
            plan[case.id] = (provenance.entry_marks(new, replaced, entries.get(case.id)), replaced)
        return plan

    def _apply(self, work: Path, blobs: dict[str, dict[str, bytes]], cases: list[Case]) -> None:
        """Write the verified ``blobs`` and merge ``case_map.json`` / ``manifest.json``.

        A file whose bytes are already there keeps its manifest entry untouched (timestamp
        and provenance too): republishing identical GT changes nothing, so commits nothing."""
        d = work / self.folder
        plan = self._plan(work, cases)  # this tip may hold GT another publisher just landed
        self.replaced = {cid: r.source or "" for cid, (_, r) in plan.items() if r is not None}
        d.mkdir(parents=True, exist_ok=True)
        old_cmap = (d / CASE_MAP).read_bytes() if (d / CASE_MAP).is_file() else None
        updates: dict[str, list[str]] = {}
        files = self._folder_manifest(d)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        for case in cases:
            source = plan[case.id][0][provenance.SOURCE]
            written = blobs.get(case.id, {})
            # The GT mp4 travels too (manifest only, not case_map, which keeps sglang's shape):
            # whole-video compares read it back through any source.
            for name, data in written.items():
                sha = hashlib.sha256(data).hexdigest()
                old = files.get(name)
                (d / name).write_bytes(data)
                if (isinstance(old, dict) and old.get("sha256") == sha and old.get("case") == case.id
                        and old.get(provenance.MANIFEST_KEY) == source):
                    continue  # the same GT: its entry (and timestamp) stays as it was
                files[name] = {"sha256": sha, "case": case.id, provenance.MANIFEST_KEY: source,
                               "source_ref": self.prov.source_ref, "source_sha": self.prov.source_sha,
                               "torch": self.prov.torch, "run_url": self.prov.run_url, "published": now}
            for name in provenance.gt_file_names(case):  # GT of the case this publish does not write
                if name not in written and ((d / name).is_file() or (d / name).is_symlink()):
                    (d / name).unlink()
                    files.pop(name, None)
            updates[case.id] = expected_outputs(case)
        (d / CASE_MAP).write_text(merge_case_map(old_cmap, updates, str(d / CASE_MAP),
                                                 extra={PUBLISHED_BY_KEY: PUBLISHED_BY},
                                                 marks={cid: m for cid, (m, _) in plan.items()}))
        (d / MANIFEST).write_text(json.dumps({"schema_version": 1, "files": dict(sorted(files.items()))},
                                             indent=2, sort_keys=True) + "\n")

    def _message(self, cases: list[Case]) -> str:
        p = self.prov
        new = {c.id: (self.impls.get(c.id) or GtImplementation(c.gt_source, "registry")).source
               for c in cases}
        return (f"gt-gen: publish {len(cases)} case(s) to {self.folder}\n\n"
                + "".join(f"case: {c.id}\n" for c in cases)
                + "".join(f"implementation: {c.id}: {new[c.id]}\n" for c in cases)
                + "".join(f"replaced-implementation: {cid}: {old} -> {new[cid]} "
                          "(--replace-implementation)\n" for cid, old in sorted(self.replaced.items()))
                + f"source-ref: {p.source_ref}\nsource-sha: {p.source_sha}\n"
                  f"torch: {p.torch}\nrun-url: {p.run_url}\n")

    @staticmethod
    def _video(tmp: Path, case: Case, blobs: dict[str, bytes]) -> Path | None:
        """The verified GT mp4 written where the quality gate can decode it (not re-read
        from the source, which could have changed since it was checked)."""
        name = video_name(case)
        if case.modality != "video" or name not in blobs:
            return None
        path = tmp / "verified" / case.id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blobs[name])
        return path

    def publish(self, source: Path, cases: list[Case], *, check_only: bool = False,
                allow_drift: bool = False, replace_implementation: bool = False) -> PublishResult:
        entries = read_generate_manifest(source)
        blobs = verified_outputs(source, cases, entries)  # before anything is written
        self.impls = {c.id: provenance.new_gt(c, entries.get(c.id), str(source / MANIFEST))
                      for c in cases}
        self.replace_implementation = replace_implementation
        self.replaced = {}
        with work_dir() as tmp:
            work = tmp / "repo"
            work.mkdir()
            self._checkout(work)
            self._plan(work, cases)  # GT of another implementation: refused before anything else
            reports = [check_case(c, decode_outputs(source, c, blobs[c.id]), self.previous(work, c),
                                  allow_drift=allow_drift, video=self._video(tmp, c, blobs[c.id]))
                       for c in cases]
            bad = [r for r in reports if not r.ok]
            if bad:
                raise QualityGateError("quality gate rejected " + "; ".join(
                    f"{r.case_id}: {', '.join(r.problems)}" for r in bad))
            if check_only:
                return PublishResult(self.branch, None, reports, 0, changed=False)
            for attempt in range(1, self.attempts + 1):
                self._apply(work, blobs, cases)
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
                    return PublishResult(self.branch, commit, reports, attempt,
                                         replaced=dict(self.replaced))
                err = push.stderr.decode(errors="replace")
                if not re.search(r"non-fast-forward|fetch first|cannot lock ref|failed to update ref|incorrect old value", err):
                    raise GitError(redact(f"git push failed: {gitutil.reason(err, push.returncode)}"))
                self._sync(work)  # another publisher landed: re-apply on the new tip
            raise GitError(f"push still rejected after {self.attempts} attempts (busy branch "
                           f"{self.branch}); rerun the publish")


def case_selection_from_manifest(source: Path) -> list[str]:
    """Cases that ``gt-gen generate`` wrote successfully into ``source``."""
    if not (source / MANIFEST).is_file():
        return []
    return sorted(cid for cid, e in read_generate_manifest(source).items() if e.get("status") == "ok")


def require_cases(ids: list[str]) -> None:
    if not ids:
        raise UsageError("nothing to publish: no successful cases in the source manifest and "
                         "no --group/--case given")
