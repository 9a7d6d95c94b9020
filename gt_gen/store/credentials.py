"""Where credentials may go: only over https, only to the host they were given for.

A token (``CI_DATA_TOKEN`` / ``GT_GEN_TOKEN``) or a URL's ``user:password@`` is sent as an
``Authorization`` header only to an ``https://`` URL on the same host and port as the GT
source, never after a redirect elsewhere. Plain ``http://`` gets no credentials: anyone on
the path could read them. The one exception is a loopback server (127.0.0.0/8, ``::1``,
``localhost``) with ``GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK=1`` set, for tests and local mirrors.
Credentials found in a URL are taken out of it, so they never reach a message, a log, a
results file or a git config on disk.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

#: Set to ``1`` to allow credentials over plain http to a loopback host (tests, local mirrors).
ALLOW_HTTP_LOOPBACK_ENV = "GT_GEN_ALLOW_HTTP_TOKEN_LOOPBACK"
TOKEN_ENV_VARS = ("CI_DATA_TOKEN", "GT_GEN_TOKEN")


@dataclass(frozen=True)
class Credentials:
    """An ``Authorization`` header value and where it came from (never its value)."""

    header: str
    origin: str  # "url" or the environment variable's name


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without ``user:password@``, and the user and password (percent-decoded).

    The userinfo ends at the *last* ``@`` of the authority, so a password holding ``@``
    is taken whole (``https://u:pa@ss@host`` -> ``https://host``, ``u``, ``pa@ss``)."""
    if "://" not in url:
        return url, None, None
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user), unquote(password) if sep else None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int | None]:
    p = urlsplit(url)
    default = {"https": 443, "http": 80}.get(p.scheme.lower())
    return p.scheme.lower(), (p.hostname or "").lower(), p.port or default


def may_send(url: str, base: str) -> bool:
    """Whether credentials given for ``base`` may go with a request to ``url``.

    Same scheme, host and port as ``base`` (so never after a redirect to another host), and
    https, or http to a loopback host with :data:`ALLOW_HTTP_LOOPBACK_ENV` set to ``1``."""
    scheme, host, port = _origin(url)
    if (scheme, host, port) != _origin(base):
        return False
    if scheme == "https":
        return True
    return scheme == "http" and is_loopback(host) and os.environ.get(ALLOW_HTTP_LOOPBACK_ENV) == "1"


def for_url(user: str | None, password: str | None) -> Credentials | None:
    """The credentials to offer: a URL's userinfo first, else the token from the environment."""
    if user is not None or password is not None:
        basic = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
        return Credentials(f"Basic {basic}", "url")
    for name in TOKEN_ENV_VARS:
        token = os.environ.get(name)
        if token:
            return Credentials(f"token {token}", name)
    return None


def git_env(remote: str, user: str | None, password: str | None) -> dict[str, str]:
    """Git config (through the environment, never argv, logs or a config file) sending the
    credentials as an ``Authorization`` header, only where :func:`may_send` allows it."""
    if not remote.startswith(("https://", "http://")) or not may_send(remote, remote):
        return {}
    if user is not None or password is not None:
        basic = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
    else:
        token = next((t for n in TOKEN_ENV_VARS if (t := os.environ.get(n))), None)
        if not token:
            return {}
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: basic {basic}"}
