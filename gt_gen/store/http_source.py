"""GT over raw HTTP (GitHub-raw style): ``<base>/<commit>/<path>``, through requests.

The existence probe is HEAD, then a ``GET`` with ``Range: bytes=0-0`` where HEAD is refused
(403/405/501). Three outcomes: present (2xx, or 416 for an empty file), missing (a
definitive 404), unknown (timeouts, resets, 5xx, 429, any other status) after bounded
retries with jitter honouring ``Retry-After``. Unknown never becomes missing: sglang once
failed CI on CDN blips that way. Bodies are checked against ``Content-Length``, so a
truncated download is retried and then an error, never a file.

A source that gave no answer at all (timeouts, refused or reset connections) to a whole round
of attempts is not asked again in the same run: what is asked later is unknown at once, with
that reason. Each case's lookup probes its own files, so a server that accepts connections and
never answers cost every case a round of timeouts (4 x 10 s; a fetch of the 11-case tiny group
was still probing after 5 minutes); the outcome was the same unknown, found one case at a time.
A server that answers, even with errors, keeps being asked: its answers are per file.

Credentials (a URL's ``user:password@`` or ``CI_DATA_TOKEN``) are taken out of the URL and
sent only where :func:`gt_gen.store.credentials.may_send` allows: https to the source's own
host. Redirects are followed here, one hop at a time, so that rule is applied to every hop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urljoin

import requests

from gt_gen.errors import MissingFileError, NetworkError, UsageError
from gt_gen.http_body import read_body
from gt_gen.gitutil import COMMIT_RE
from gt_gen.redact import redact
from gt_gen.retry import Retryable, RetriesExhausted, parse_retry_after, retry
from gt_gen.store import credentials
from gt_gen.store.cache import BlobCache
from gt_gen.store.source import Presence, safe_relpath

HEAD_REFUSED = (403, 405, 501)
MAX_REDIRECTS = 5
T = TypeVar("T")


class HttpSource:
    """Read-only GT at ``base_url/commit``; every request is counted in ``requests_made``."""

    def __init__(self, base_url: str, commit: str, *, cache: BlobCache | None = None,
                 timeout: float = 10.0, attempts: int = 4, backoff: float = 0.2,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        if not COMMIT_RE.match(commit or ""):
            raise UsageError(f"the HTTP source needs a pinned 40-hex commit as --ref, got "
                             f"{commit!r} (branches move; resolve it with git first)")
        clean, user, password = credentials.split_userinfo(base_url)
        self.base = clean.rstrip("/")
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
        self.creds = credentials.for_url(user, password)
        #: Relpaths whose bytes this run took from the cache (so a bad one can be evicted).
        self.from_cache: set[str] = set()
        self._unanswered = 0  # attempts in a row that ended with no HTTP answer
        #: Why the source is not asked again (no answer to a whole round of attempts), or "".
        self.gone = ""

    def url(self, relpath: str) -> str:
        return f"{self.base}/{self.commit}/{safe_relpath(relpath)}"

    def _withheld(self, url: str) -> str:
        """A hint for 401/403 answers when credentials exist but were not sent to ``url``."""
        if self.creds is None or credentials.may_send(url, self.base):
            return ""
        return (f" (credentials from {self.creds.origin} withheld: sent only over https to the "
                f"source's host; {credentials.ALLOW_HTTP_LOOPBACK_ENV}=1 allows a loopback http server)")

    def _request(self, method: str, url: str, headers: dict[str, str] | None = None,
                 **kw: Any) -> requests.Response:
        """One request, following redirects here so credentials never follow them elsewhere."""
        for _ in range(MAX_REDIRECTS + 1):
            self.requests_made += 1
            hdrs = dict(headers or {})
            if self.creds is not None and credentials.may_send(url, self.base):
                hdrs["Authorization"] = self.creds.header
            try:
                resp = self.session.request(method, url, headers=hdrs, timeout=self.timeout,
                                            allow_redirects=False, **kw)
            except requests.RequestException as exc:
                raise Retryable(f"{method} {redact(url)}: {type(exc).__name__}") from exc
            if not resp.is_redirect:
                return resp
            location = resp.headers.get("Location", "")
            resp.close()
            url = urljoin(url, location)
            if resp.status_code == 303:
                method = "GET" if method != "HEAD" else method
        raise Retryable(f"{method} {redact(url)}: more than {MAX_REDIRECTS} redirects")

    def _retry(self, fn: Callable[[], T]) -> T:
        """``fn`` with bounded retries; at once unknown when the source stopped answering (see
        the module docstring)."""
        if self.gone:
            raise RetriesExhausted([self.gone])

        def attempt() -> T:
            try:
                got = fn()
            except Retryable as exc:  # unanswered: the request itself failed (no status)
                self._unanswered = self._unanswered + 1 if isinstance(exc.__cause__, requests.RequestException) else 0
                raise
            self._unanswered = 0
            return got

        try:
            if self.sleep is not None:
                return retry(attempt, attempts=self.attempts, base=self.backoff, sleep=self.sleep)
            return retry(attempt, attempts=self.attempts, base=self.backoff)
        except RetriesExhausted as exc:
            if self._unanswered >= self.attempts:
                self.gone = (f"no answer to {self._unanswered} attempts in a row, the last "
                             f"{exc.reasons[-1]}; not asked again")
            raise

    def _transient(self, resp: requests.Response, what: str) -> Retryable:
        hint = self._withheld(resp.url or "") if resp.status_code in (401, 403) else ""
        return Retryable(f"{what}: HTTP {resp.status_code}{hint}",
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
        if self.cache is not None and self.cache.lookup(self.base, self.commit, relpath) is not None:
            return Presence.PRESENT  # only files that exist are cached; a 404 is asked again
        try:
            return self._retry(lambda: self._probe_once(self.url(relpath)))
        except RetriesExhausted as exc:
            self.last_error = redact(self.gone or f"{len(exc.reasons)} attempts: {exc.reasons[-1]}")
            return Presence.UNKNOWN

    def _get_once(self, url: str) -> bytes | None:
        resp = self._request("GET", url, stream=True)
        try:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._transient(resp, f"GET {redact(url)}")
            expected = resp.headers.get("Content-Length")
            body = read_body(resp, timeout=self.timeout, what=f"GET {redact(url)}")
        finally:
            resp.close()
        if expected is not None and resp.headers.get("Content-Encoding") in (None, "identity") \
                and expected.isdigit() and int(expected) != len(body):
            raise Retryable(f"GET {redact(url)}: truncated body ({len(body)} of {expected} bytes)")
        return body

    def read_bytes(self, relpath: str) -> bytes:
        relpath = safe_relpath(relpath)
        if self.cache is not None:
            known = self.cache.lookup(self.base, self.commit, relpath)
            if known is not None:
                data = self.cache.get(known)
                if data is not None:
                    self.from_cache.add(relpath)
                    return data
        url = self.url(relpath)
        try:
            got = self._retry(lambda: self._get_once(url))
        except RetriesExhausted as exc:
            why = self.gone or f"after {self.attempts} attempts ({exc})"
            raise NetworkError(f"cannot download {redact(url)} {redact(why)}; the GT state is "
                               "unknown, rerun later", url=redact(url)) from None
        if got is None:
            raise MissingFileError(f"GT file not found at {redact(url)}", url=redact(url))
        self.from_cache.discard(relpath)
        if self.cache is not None:
            self.cache.put(self.base, self.commit, relpath, got)
        return got

    def evict_cached(self, relpath: str) -> str | None:
        """Drop ``relpath`` from the cache, where it was (None if it was not cached): whether
        this run read it from there or downloaded and cached it just now, bytes that failed
        verification must not be served to the next run (which then failed again without
        asking the source)."""
        if self.cache is None:
            return None
        self.from_cache.discard(relpath)
        rec = self.cache.evict(self.base, self.commit, relpath)
        return str(self.cache.root) if rec is not None else None
