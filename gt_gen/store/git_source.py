"""GT from a git repository (local path or URL) at a ref resolved to a commit.

A bare mirror per remote lives in the gt-gen cache, fetched as a partial clone (trees now,
blobs on first read), so CI downloads only the GT it compares. A pinned commit already in
the mirror costs no network at all (``network_ops`` counts fetches); a branch or tag is
resolved to its commit first, and that commit is what results record.

Credentials in the remote URL (``https://user:token@host/...``) are taken out of it: the
mirror's config on disk and every message hold the bare URL, and the credentials travel
through the environment as an ``Authorization`` header, only over https (see
:mod:`gt_gen.store.credentials`). Git objects are content-addressed, so the mirror needs no
eviction: a corrupted object fails git's own hash check.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from gt_gen import gitutil
from gt_gen.atomic import sweep_stale
from gt_gen.errors import GitError, MissingFileError, UsageError
from gt_gen.gitutil import COMMIT_RE
from gt_gen.redact import redact
from gt_gen.store import credentials
from gt_gen.store.source import Presence, safe_relpath


class GitSource:
    """Read-only GT at one commit of a git remote."""

    def __init__(self, remote: str, ref: str, cache_root: Path) -> None:
        if Path(remote).exists():
            remote = str(Path(remote).resolve())
        remote, user, password = credentials.split_userinfo(remote)
        if (user is not None or password is not None) and not credentials.may_send(remote, remote):
            raise UsageError(f"credentials in the URL of {redact('git:' + remote)} would travel "
                             "unencrypted: give an https:// URL (or set CI_DATA_TOKEN for it)")
        self.remote = remote
        self.description = redact(f"git:{remote}")
        self.mirror = cache_root / "git" / (hashlib.sha256(remote.encode()).hexdigest()[:16] + ".git")
        self.network_ops = 0
        # A private ci-data: the URL's credentials or CI_DATA_TOKEN, through the environment.
        self.env = credentials.git_env(remote, user, password)
        self._ensure_mirror()
        self.ref = ref
        self.commit: str = self.resolve(ref)
        self._paths: set[str] | None = None

    def _ensure_mirror(self) -> None:
        """The bare mirror, made whole before it takes its place: it is initialised and
        configured in a folder beside it, then renamed in one step. A process killed midway
        leaves only that folder (removed by the next run), never a mirror without its remote,
        which every later run would have used and failed on. A mirror left so by an older
        version (no ``remote.origin.url``, or another remote's) is made again."""
        if (self.mirror / "HEAD").is_file():
            got = gitutil.git("config", "--get", "remote.origin.url", cwd=self.mirror, check=False)
            if got.returncode == 0 and got.stdout.decode(errors="replace").strip() == self.remote:
                return
            shutil.rmtree(self.mirror, ignore_errors=True)  # a cache entry: made again below
        self.mirror.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(self.mirror.parent, self.mirror.name + ".new-")  # another run's, killed while making it
        tmp = Path(tempfile.mkdtemp(prefix=self.mirror.name + ".new-", dir=self.mirror.parent))
        try:
            gitutil.git("init", "-q", "--bare", str(tmp))
            gitutil.git("config", "remote.origin.url", self.remote, cwd=tmp)
            gitutil.git("config", "remote.origin.promisor", "true", cwd=tmp)
            gitutil.git("config", "remote.origin.partialclonefilter", "blob:none", cwd=tmp)
            try:
                os.rename(tmp, self.mirror)
            except OSError:  # another run put its own (equally made) mirror there first
                if not (self.mirror / "HEAD").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _has_commit(self, sha: str) -> bool:
        return gitutil.git("cat-file", "-e", f"{sha}^{{commit}}", cwd=self.mirror,
                           check=False).returncode == 0

    def _fetch(self, *refspecs: str) -> bool:
        self.network_ops += 1
        proc = gitutil.git("fetch", "-q", "--no-tags", "--filter=blob:none", "origin", *refspecs,
                           cwd=self.mirror, check=False, extra_env=self.env)
        return proc.returncode == 0

    def resolve(self, ref: str) -> str:
        """The commit ``ref`` names; a pinned commit already mirrored needs no network."""
        if COMMIT_RE.match(ref) and self._has_commit(ref):
            return ref
        if COMMIT_RE.match(ref):
            if not self._fetch(ref) and not self._fetch("+refs/heads/*:refs/remotes/origin/*",
                                                        "+refs/tags/*:refs/tags/*"):
                if not self._reachable():  # a remote that did not answer has not denied the commit
                    raise GitError(f"cannot reach {self.description} (git could not list its refs), "
                                   f"so commit {ref} could not be looked for")
            if not self._has_commit(ref):
                raise GitError(f"commit {ref} not found in {self.description}")
            return ref
        if not self._fetch(f"+{ref}:refs/gtgen/resolved"):
            raise GitError(f"cannot fetch ref {ref!r} from {self.description}: "
                           + self._why_no_ref(ref))
        return gitutil.out("rev-parse", "refs/gtgen/resolved^{commit}", cwd=self.mirror)

    def _reachable(self) -> bool:
        return gitutil.git("ls-remote", "--heads", "origin", cwd=self.mirror, check=False,
                           extra_env=self.env, timeout=60).returncode == 0

    def _why_no_ref(self, ref: str) -> str:
        """Name the branches the remote does have: `gt-gen publish` without --source-ref
        commits to gt/local and from another source ref to gt/<name>, so `--ref main` often
        just means the GT went to another branch."""
        proc = gitutil.git("ls-remote", "--heads", "origin", cwd=self.mirror, check=False,
                           extra_env=self.env, timeout=60)
        if proc.returncode != 0:
            return "no such branch or tag, or the remote is unreachable"
        heads = sorted(line.split("refs/heads/", 1)[1] for line in
                       proc.stdout.decode(errors="replace").splitlines() if "refs/heads/" in line)
        if not heads:
            return "no such branch or tag; the repository has no branches yet"
        shown = ", ".join(heads[:12]) + (f", ... ({len(heads)} in all)" if len(heads) > 12 else "")
        hint = ""
        gt = [h for h in heads if h.startswith("gt/")]
        if gt:
            hint = (f"; `gt-gen publish` commits to gt/local without --source-ref and to gt/<name> "
                    f"for a non-main source ref: try --ref {gt[0]}")
        return f"no such branch or tag; its branches: {shown}{hint}"

    def _listing(self) -> set[str]:
        if self._paths is None:
            text = gitutil.out("ls-tree", "-r", "--name-only", self.commit, cwd=self.mirror)
            self._paths = set(text.splitlines())
        return self._paths

    def probe(self, relpath: str) -> Presence:
        return Presence.PRESENT if safe_relpath(relpath) in self._listing() else Presence.MISSING

    def read_bytes(self, relpath: str) -> bytes:
        relpath = safe_relpath(relpath)
        if relpath not in self._listing():
            raise MissingFileError(f"{relpath} not in {self.description} at {self.commit[:12]}")
        before = self._missing_blob(relpath)
        data = gitutil.git("cat-file", "blob", f"{self.commit}:{relpath}", cwd=self.mirror,
                           extra_env=self.env).stdout  # may fetch the blob lazily
        self.network_ops += int(before)
        return data

    def _missing_blob(self, relpath: str) -> bool:
        """Whether reading ``relpath`` will lazily fetch its blob (counted as network)."""
        sha = gitutil.out("rev-parse", f"{self.commit}:{relpath}", cwd=self.mirror)
        proc = gitutil.git("cat-file", "-e", sha, cwd=self.mirror, check=False,
                           extra_env={"GIT_NO_LAZY_FETCH": "1"})
        return proc.returncode != 0
