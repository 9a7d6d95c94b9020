"""Download one input image over HTTP(S), bounded in every direction, or fail with one line.

What is refused, and why:

* **credentials in the URL** (``user:pass@``): an input image is public; nothing is sent and
  the message shows the URL redacted. No ``Authorization`` ever goes out (``~/.netrc`` is not
  consulted either), so no token can leak to an image host.
* **plain http** except to a loopback host (tests, local mirrors): anyone on the path could
  swap the image that then gets pinned as GT's input.
* **a redirect to another origin** (scheme, host, port), and any https -> http downgrade,
  unless the target is allowed: GitHub release downloads (``github.com`` ->
  ``*.githubusercontent.com``, where GitHub stores release assets) and hosts named with
  ``--allow-redirect-host``. Redirects are followed here, one hop at a time, so the rule
  holds for every hop.
* **a body over the size cap**, by ``Content-Length`` before reading or while streaming
  (decoded size: a gzip bomb stops at the cap).
* **definitive answers** (404, 410, 401, 403, other 4xx): no retry.

Transient faults (timeouts, resets, 5xx, 408, 429, a body shorter than its ``Content-Length``)
are retried with :func:`gt_gen.retry.retry` (bounded, jittered, ``Retry-After`` honoured), then
reported as a network error. Everything is held in memory (at most the cap): nothing reaches
the assets folder until the caller has checked the bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from gt_gen import __version__
from gt_gen.assets.lock import MAX_BYTES, check_url
from gt_gen.errors import InputFileError, MissingFileError, NetworkError
from gt_gen.redact import redact
from gt_gen.retry import Retryable, RetriesExhausted, parse_retry_after, retry

MAX_REDIRECTS = 5
#: Cross-origin redirects accepted without asking: source host -> allowed target host suffixes.
KNOWN_REDIRECTS: dict[str, tuple[str, ...]] = {"github.com": (".githubusercontent.com",)}
CHUNK = 64 * 1024
#: First backoff step in seconds (doubling, jittered, capped by gt_gen.retry).
BACKOFF = 0.5


@dataclass(frozen=True)
class Fetched:
    data: bytes
    #: Where the bytes came from after redirects (no query, no fragment).
    served_from: str


class _Refused(Exception):
    """A definitive failure: not retried."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(str(exc))
        self.exc = exc


def _origin(url: str) -> tuple[str, str, int | None]:
    p = urlsplit(url)
    return p.scheme.lower(), (p.hostname or "").lower(), p.port or {"https": 443, "http": 80}.get(
        p.scheme.lower())


def _is_loopback(host: str) -> bool:
    from gt_gen.store.credentials import is_loopback

    return is_loopback(host)


def _redirect_allowed(src: str, dst: str, extra_hosts: Iterable[str]) -> bool:
    (s_scheme, s_host, _), (d_scheme, d_host, _) = _origin(src), _origin(dst)
    if _origin(src) == _origin(dst):
        return True
    if s_scheme == "https" and d_scheme != "https":
        return False  # never downgrade
    if d_scheme != "https" and not _is_loopback(d_host):
        return False
    if d_host in {h.lower() for h in extra_hosts}:
        return True
    return any(d_host.endswith(sfx) for sfx in KNOWN_REDIRECTS.get(s_host, ()))


def _no_query(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path, "", ""))


def fetch(url: str, *, timeout: float = 30.0, attempts: int = 4, max_bytes: int = MAX_BYTES,
          allow_redirect_hosts: Iterable[str] = (), session: Any = None,
          sleep: Callable[[float], None] | None = None,
          backoff: float | None = None) -> Fetched:
    """The body at ``url`` (see the module docstring for what is refused and retried)."""
    import requests

    shown = redact(url)
    check_url(url)  # credentials, scheme, host: refused before any request
    if _origin(url)[0] == "http" and not _is_loopback(_origin(url)[1]):
        raise NetworkError(f"{shown}: plain http is refused for input images (anyone on the "
                           "path could swap the image); use the https URL", url=shown)
    sess = session or requests.Session()
    allowed = tuple(allow_redirect_hosts)
    headers = {"User-Agent": f"gt-gen/{__version__} (assets pin)", "Accept": "image/*"}

    def refuse(exc: Exception) -> _Refused:
        return _Refused(exc)

    def once() -> Fetched:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                # auth: a no-op callable, so requests never adds ~/.netrc credentials
                resp = sess.get(current, headers=headers, timeout=timeout, stream=True,
                                allow_redirects=False, auth=lambda r: r)
            except requests.RequestException as exc:
                raise Retryable(f"{type(exc).__name__}") from exc
            with resp:
                if resp.is_redirect:
                    nxt = urljoin(current, resp.headers.get("Location", ""))
                    if not _redirect_allowed(current, nxt, allowed):
                        host = _origin(nxt)[1] or "?"
                        raise refuse(NetworkError(
                            f"{shown}: redirected to another host ({redact(_no_query(nxt))}); "
                            f"refused: if that host is the image's real home, rerun with "
                            f"--allow-redirect-host {host}", url=shown))
                    current = nxt
                    continue
                return _body(resp, current)
        raise refuse(NetworkError(f"{shown}: more than {MAX_REDIRECTS} redirects", url=shown))

    def _body(resp: Any, current: str) -> Fetched:
        code = resp.status_code
        if code in (404, 410):
            raise refuse(MissingFileError(f"{shown}: not found (HTTP {code}); the URL sglang's "
                                          "CI uses has moved or gone: check sglang's case "
                                          "definitions", url=shown))
        if code in (408, 429) or code >= 500:
            raise Retryable(f"HTTP {code}", parse_retry_after(resp.headers.get("Retry-After")))
        if code != 200:
            raise refuse(NetworkError(f"{shown}: HTTP {code} (refused; an input image needs no "
                                      "credentials)", url=shown))
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise refuse(InputFileError(f"{shown}: {int(declared)} bytes, more than the "
                                        f"{max_bytes} allowed for an input image", url=shown))
        deadline = time.monotonic() + max(10 * timeout, 60.0)
        buf = bytearray()
        try:
            for chunk in resp.iter_content(CHUNK):
                buf += chunk
                if len(buf) > max_bytes:
                    raise refuse(InputFileError(f"{shown}: more than the {max_bytes} bytes "
                                                "allowed for an input image", url=shown))
                if time.monotonic() > deadline:
                    raise Retryable("the download took too long")
        except requests.RequestException as exc:
            raise Retryable(f"{type(exc).__name__}: the body ended early (truncated or "
                            "reset)") from exc
        encoded = resp.headers.get("Content-Encoding", "identity") in ("", "identity")
        if declared.isdigit() and encoded and int(declared) != len(buf):
            raise Retryable(f"truncated body ({len(buf)} of {declared} bytes)")
        return Fetched(bytes(buf), _no_query(current))

    try:
        return retry(once, attempts=attempts, base=BACKOFF if backoff is None else backoff,
                     sleep=sleep or time.sleep)
    except _Refused as exc:
        raise exc.exc from None
    except RetriesExhausted as exc:
        raise NetworkError(f"{shown}: no answer after {attempts} attempt(s) "
                           f"({redact(exc.reasons[-1])}); rerun later", url=shown) from None
