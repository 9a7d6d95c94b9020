"""The one way generation gets an input image's bytes: a pinned local copy, re-hashed now.

Why re-hash at use: the lock (or the case file) says which bytes GT is made from; a file
edited, replaced or truncated since it was pinned must stop the case, not quietly become its
input. Why never the URL: GT made from whatever a URL serves today is not reproducible, and a
GT job may run without network. Every refusal names the case and the command that fixes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gt_gen.assets import LOCK_NAME
from gt_gen.assets.case_inputs import pin_command
from gt_gen.assets.lock import MAX_BYTES, Pin
from gt_gen.errors import ConfigError, IntegrityError, MissingFileError
from gt_gen.names import inside
from gt_gen.redact import redact


@dataclass(frozen=True)
class LocalInput:
    """A verified input: its file, bytes and digest; ``pin`` when it came from the lock."""

    path: Path
    data: bytes
    sha256: str
    pin: Pin | None = None

    def record(self) -> dict[str, Any]:
        """What a manifest keeps of the input (file name, digest, the lock entry if any)."""
        rec: dict[str, Any] = {"file": self.path.name, "sha256": self.sha256}
        if self.pin is not None:
            rec["pin"] = {"url": self.pin.url, **self.pin.record()}
        return rec


def read_pin(pin: Pin) -> tuple[bytes | None, str | None]:
    """``(bytes, None)`` of ``pin``'s file when it holds the pinned bytes, else ``(None, why)``:
    ``missing``, not a regular file, outside its folder, or changed since it was pinned."""
    from gt_gen.jsonio import read_regular_bytes

    try:
        path = inside(pin.path.parent, pin.file, kind="pinned file")
        data = read_regular_bytes(path, max_bytes=MAX_BYTES, what="pinned input")
    except MissingFileError:
        return None, "missing"
    except ConfigError as exc:
        return None, " ".join(str(exc).split())
    digest = hashlib.sha256(data).hexdigest()
    if digest != pin.sha256:
        return None, (f"sha256 {digest[:12]}… is not the pinned {pin.sha256[:12]}… (changed "
                      "after pinning)")
    return data, None


def local_input(case: Any, *, url: str = "", path: str = "", sha256: str = "",
                what: str = "input image") -> LocalInput:
    """The bytes of one declared input of ``case``, verified, or an error naming the fix.

    ``path`` + ``sha256``: a file pinned in the case file (relative to it, inside its folder).
    ``url`` alone: the copy pinned in the assets lock (``case.input_pins``)."""
    from gt_gen.jsonio import read_regular_bytes

    if path and sha256:
        local = inside(Path(case.source).parent, path, kind=what, where=case.source)
        if not local.is_file():
            raise MissingFileError(f"case {case.id}: {what} not found", path=local, case_id=case.id)
        data = read_regular_bytes(local, max_bytes=MAX_BYTES, what=what)
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise IntegrityError(f"case {case.id}: {what} sha256 {digest[:12]}… does not match "
                                 f"the pinned {sha256[:12]}…", path=local, case_id=case.id)
        return LocalInput(local, data, digest)
    if not url:
        raise ConfigError(f"case {case.id}: {what} has neither a pinned path nor a url",
                          path=case.source, case_id=case.id)
    pin: Pin | None = getattr(case, "input_pins", {}).get(url)
    if pin is None:
        raise ConfigError(f"case {case.id}: {what} {redact(url)} is not pinned: run "
                          f"`{pin_command(case)}` once with network, then commit cases/assets/ "
                          "(gt-gen never generates GT from an unpinned input)",
                          path=case.source, case_id=case.id)
    blob, problem = read_pin(pin)
    if blob is None:
        cls = MissingFileError if problem == "missing" else IntegrityError
        raise cls(f"case {case.id}: pinned {what} {pin.file} ({LOCK_NAME}: {redact(url)}): "
                  f"{problem}; restore it from git, or re-pin with `{pin_command(case)} --force`",
                  path=pin.path, case_id=case.id)
    return LocalInput(pin.path, blob, pin.sha256, pin)
