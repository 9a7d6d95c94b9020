"""Thin, redacting wrapper around the ``git`` command line.

Why the CLI and not a library: it is what CI runners have, it speaks every transport
(local paths, file://, https with tokens) and its ref updates are atomic. Every failure is
one :class:`GitError` line with credentials removed.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

from gt_gen.errors import GitError
from gt_gen.redact import redact

#: A full git commit id. ci-data refs and hub revisions alike (the hub is git) are pinned
#: only by this; a branch or tag name moves.
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")

#: GIT_HTTP_LOW_SPEED_*: an http(s) remote that sends under 1 kB/s for 20 s is given up on
#: (curl's low-speed check), where a server that accepts and never answers held a fetch for
#: the whole subprocess timeout (600 s).
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C",
           "GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "20"}
IDENTITY = ["-c", "user.name=gt-gen", "-c", "user.email=gt-gen@users.noreply.github.com",
            "-c", "commit.gpgsign=false"]


def git(*args: str, cwd: str | Path | None = None, check: bool = True, input: bytes | None = None,
        timeout: float = 600, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``git args`` and return the process (stdout as bytes)."""
    env = {**os.environ, **GIT_ENV, **(extra_env or {})}
    try:
        proc = subprocess.run(["git", *IDENTITY, *args], cwd=cwd, capture_output=True,
                              input=input, env=env, timeout=timeout)
    except FileNotFoundError as exc:
        raise GitError("git is not installed; install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from exc
    if check and proc.returncode != 0:
        raise GitError(redact(f"git {args[0]} failed: {reason(proc.stderr, proc.returncode)}"))
    return proc


def reason(stderr: bytes | str, returncode: int = 1) -> str:
    """Why git failed, in one line: its ``fatal:``, ``error:``, ``remote:`` (a hook's own
    words) and ``! [...]`` lines, up to three, else its last line. The last line alone was
    often advice with the cause cut off ("...and the repository exists.")."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    picked = [ln for ln in lines if ln.startswith(("fatal:", "error:", "remote:", "! ["))
              and ln not in ("remote:",)]
    out = " | ".join(dict.fromkeys(picked[:3])) if picked else (lines[-1] if lines else f"exit {returncode}")
    return out[:400]


def out(*args: str, cwd: str | Path | None = None) -> str:
    return git(*args, cwd=cwd).stdout.decode().strip()


def auth_env(remote: str) -> dict[str, str]:
    """Git config (through the environment, never argv or logs) that sends ``CI_DATA_TOKEN``
    (or ``GT_GEN_TOKEN``) as an Authorization header to an https remote; empty otherwise."""
    token = os.environ.get("CI_DATA_TOKEN") or os.environ.get("GT_GEN_TOKEN")
    if not token or not remote.startswith("https://"):
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: basic {basic}"}
