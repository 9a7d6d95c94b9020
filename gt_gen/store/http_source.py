"""GT over raw HTTP (GitHub-raw style): ``<base>/<commit>/<path>``, through requests.

The existence probe is HEAD, then a ``GET`` with ``Range: bytes=0-0`` where HEAD is refused
(403/405/501). Three outcomes: present (2xx, or 416 for an empty file), missing (a
definitive 404), unknown (timeouts, resets, 5xx, 429, any other status) after bounded
retries with jitter honouring ``Retry-After``. Unknown never becomes missing: sglang once
failed CI on CDN blips that way. Bodies are checked against ``Content-Length``, so a
truncated download is retried and then an error, never a file.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from gt_gen.errors import MissingFileError, NetworkError, UsageError
from gt_gen.gitutil import COMMIT_RE
from gt_gen.redact import redact
from gt_gen.retry import Retryable, RetriesExhausted, parse_retry_after, retry
from gt_gen.store.cache import MISSING, BlobCache
from gt_gen.store.source import Presence, safe_relpath

HEAD_REFUSED = (403, 405, 501)


class HttpSource:
    """Read-only GT at ``base_url/commit``; every request is counted in ``requests_made``."""

    def __init__(self, base_url: str, commit: str, *, cache: BlobCache | None = None,
                 timeout: float = 10.0, attempts: int = 4, backoff: float = 0.2,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        if not COMMIT_RE.match(commit or ""):
            raise UsageError(f"the HTTP source needs a pinned 40-hex commit as --ref, got "
                             f"{commit!r} (branches move; resolve it with git first)")
        self.base = base_url.rstrip("/")
        self.commit = commit
        self.last_error = ""  # the last probe that ended unknown, for one-line reports
        self.description = redact(f"http:{self.base}")
        self.cache = cache
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.session = session or requests.Session()
        self.sleep = sleep
        self.requests_made = 0
        self._token_header()

    def _token_header(self) -> None:
        import os

        token = os.environ.get("CI_DATA_TOKEN") or os.environ.get("GT_GEN_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"token {token}"

    def url(self, relpath: str) -> str:
        return f"{self.base}/{self.commit}/{safe_relpath(relpath)}"

    def _request(self, method: str, url: str, **kw) -> requests.Response:
        self.requests_made += 1
        try:
            return self.session.request(method, url, timeout=self.timeout, allow_redirects=True, **kw)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise Retryable(f"{method} {redact(url)}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise Retryable(f"{method} {redact(url)}: {type(exc).__name__}") from exc

    def _retry(self, fn):
        kwargs = {"attempts": self.attempts, "base": self.backoff}
        if self.sleep is not None:
            kwargs["sleep"] = self.sleep
        return retry(fn, **kwargs)

    @staticmethod
    def _transient(resp: requests.Response, what: str) -> Retryable:
        return Retryable(f"{what}: HTTP {resp.status_code}",
                         parse_retry_after(resp.headers.get("Retry-After")))

    def _probe_once(self, url: str) -> Presence:
        resp = self._request("HEAD", url)
        if resp.status_code in HEAD_REFUSED:
            resp = self._request("GET", url, headers={"Range": "bytes=0-0"}, stream=True)
            resp.close()
        code = resp.status_code
        if 200 <= code < 300 or code == 416:
            return Presence.PRESENT
        if code == 404:
            return Presence.MISSING
        raise self._transient(resp, f"probe {redact(url)}")

    def probe(self, relpath: str) -> Presence:
        relpath = safe_relpath(relpath)
        if self.cache is not None:
            known = self.cache.lookup(self.base, self.commit, relpath)
            if known is not None:
                return Presence.MISSING if known == MISSING else Presence.PRESENT
        try:
            outcome = self._retry(lambda: self._probe_once(self.url(relpath)))
        except RetriesExhausted as exc:
            self.last_error = redact(f"{len(exc.reasons)} attempts: {exc.reasons[-1]}")
            return Presence.UNKNOWN
        if outcome is Presence.MISSING and self.cache is not None:
            self.cache.put(self.base, self.commit, relpath, None)  # immutable at a commit
        return outcome

    def _get_once(self, url: str) -> bytes | None:
        resp = self._request("GET", url)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._transient(resp, f"GET {redact(url)}")
        expected = resp.headers.get("Content-Length")
        if expected is not None and resp.headers.get("Content-Encoding") in (None, "identity") \
                and int(expected) != len(resp.content):
            raise Retryable(f"GET {redact(url)}: truncated body ({len(resp.content)} of {expected} bytes)")
        return resp.content

    def read_bytes(self, relpath: str) -> bytes:
        relpath = safe_relpath(relpath)
        if self.cache is not None:
            known = self.cache.lookup(self.base, self.commit, relpath)
            if known not in (None, MISSING):
                data = self.cache.get(known)
                if data is not None:
                    return data
        url = self.url(relpath)
        try:
            data = self._retry(lambda: self._get_once(url))
        except RetriesExhausted as exc:
            raise NetworkError(f"cannot download {redact(url)} after {self.attempts} attempts "
                               f"({redact(str(exc))}); the GT state is unknown, rerun later",
                               url=redact(url)) from None
        if data is None:
            raise MissingFileError(f"GT file not found at {redact(url)}", url=redact(url))
        if self.cache is not None:
            self.cache.put(self.base, self.commit, relpath, data)
        return data
