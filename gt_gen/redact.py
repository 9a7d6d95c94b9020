"""Redaction of secrets in anything gt-gen prints or writes.

Why: tokens come from the environment and must never show up in logs, reports or
exception messages, including URLs of the form ``https://user:token@host``.

Why the whole userinfo, up to the *last* ``@``: a password may itself hold ``@``, ``:``
or ``/`` (``https://user:pa@ss@host``). Cutting at the first ``@`` would print ``ss@host``,
part of the secret. Everything from ``scheme://`` to the last ``@`` of the
whitespace-delimited run is replaced, so an ``@`` later in a path or query
(``https://host/pkg@1.0``) is over-redacted rather than a password under-redacted.
"""

from __future__ import annotations

import os
import re

#: Environment variables whose values are secrets wherever they appear.
SECRET_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "GITHUB_TOKEN", "GT_GEN_TOKEN",
                   "GH_TOKEN", "CI_DATA_TOKEN", "SGLANG_API_KEY")

#: ``scheme://`` then everything up to the last ``@`` before whitespace (greedy).
_URL_CREDS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<creds>\S*)@")


def secrets_from_env() -> list[str]:
    """Values of the known secret variables that are set (and long enough to matter)."""
    return [v for k in SECRET_ENV_VARS if (v := os.environ.get(k)) and len(v) >= 4]


def redact(text: str, extra_secrets: list[str] | None = None) -> str:
    """Replace URL credentials and every known secret value in ``text`` with ``***``."""
    out = _URL_CREDS.sub(lambda m: f"{m.group('scheme')}***@", text)
    for secret in [*secrets_from_env(), *(extra_secrets or [])]:
        if secret:
            out = out.replace(secret, "***")
    return out
