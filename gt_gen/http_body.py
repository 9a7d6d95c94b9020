"""A response body read against one deadline for the whole of it.

Why: requests' ``timeout`` bounds each socket read, not the body. A server that sends a byte
every half second is never timed out by it: a 4.4 kB ``case_map.json`` from such a GT server
took 36 minutes, a 2.8 kB mp4 from such an sglang server 23. Both HTTP clients of gt-gen (the
raw-HTTP GT source and the sglang client) read bodies here: the deadline is the request's
timeout plus the declared size at :data:`MIN_BODY_RATE`, and a body past it is
:class:`gt_gen.retry.Retryable` caused by a :class:`requests.ReadTimeout`, i.e. no answer, as
a timed-out request is.
"""

from __future__ import annotations

import time

import requests
import urllib3

from gt_gen.retry import Retryable

#: The slowest body accepted beyond the timeout, in bytes per second.
MIN_BODY_RATE = 256 * 1024


def read_body(resp: requests.Response, *, timeout: float, what: str) -> bytes:
    """The body of ``resp`` (a ``stream=True`` response, decoded as requests would), or
    :class:`Retryable` when it takes longer than ``timeout`` plus its declared size at
    :data:`MIN_BODY_RATE`, or when the connection fails midway. Also stored as
    ``resp.content``, so ``resp.text`` and ``resp.json()`` work afterwards."""
    declared = resp.headers.get("Content-Length") or ""
    limit = timeout + (int(declared) if declared.isdigit() else 0) / MIN_BODY_RATE
    t0 = time.monotonic()
    parts: list[bytes] = []
    read1 = getattr(resp.raw, "read1", None)  # urllib3 >= 2: at most one read of the socket
    try:
        while True:
            chunk = (read1(1 << 16, decode_content=True) if read1 is not None
                     else resp.raw.read(1 << 12, decode_content=True))
            if not chunk:
                break
            parts.append(chunk)
            if time.monotonic() - t0 > limit:
                got = sum(map(len, parts))
                raise Retryable(f"{what}: body too slow ({got} bytes in {limit:.0f} s)") \
                    from requests.ReadTimeout(f"body deadline of {limit:.0f} s")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise Retryable(f"{what}: {type(exc).__name__}") from requests.ConnectionError(str(exc))
    body = b"".join(parts)
    resp._content = body  # what requests' .content would have read
    resp._content_consumed = True
    return body
