"""Names from inputs are names, never paths: the one validator used wherever a name becomes a path.

Case ids, platforms, file names listed in manifests, case maps and results all arrive from
files or the command line that gt-gen does not control. Joined to a folder unchecked, ``../x``
or ``/etc/hostname`` escapes it: ``publish`` would write outside its checkout, ``report``
would embed any file. Every such join goes through :func:`safe_name` (one path component) or
:func:`safe_relpath` (``/``-separated components, each a safe name) and, for files read from a
folder, :func:`inside` (the resolved path must stay inside the folder, symlinks included).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from gt_gen.errors import ConfigError

#: One path component: letters, digits, ``.``, ``_``, ``-``, ``+``; not starting with ``.``.
NAME_RE = re.compile(r"^[A-Za-z0-9_+\-][A-Za-z0-9._+\-]{0,199}$")


def safe_name(value: object, *, kind: str = "name", where: str | Path | None = None) -> str:
    """``value`` if it is one safe path component, else :class:`ConfigError` naming ``kind``."""
    if not isinstance(value, str) or not NAME_RE.match(value) or ".." in value:
        shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else repr(value[:80] + "…")
        raise ConfigError(f"invalid {kind} {shown}: a name, not a path (letters, digits, '.', '_', "
                          "'-', '+'; not starting with '.', no '..', no '/')", path=where)
    return value


def safe_relpath(value: object, *, kind: str = "relative path",
                 where: str | Path | None = None) -> str:
    """A ``/``-separated relative path whose every component is a :func:`safe_name`."""
    if not isinstance(value, str) or not value or value.startswith("/") or "\\" in value:
        raise ConfigError(f"invalid {kind} {value!r}: must be a relative path inside its folder",
                          path=where)
    for part in value.split("/"):  # not PurePosixPath(...).parts: it drops "." and "" silently
        safe_name(part, kind=kind, where=where)
    return value


def inside(root: str | Path, rel: str, *, kind: str = "file", where: str | Path | None = None) -> Path:
    """``root / rel`` after checking that it resolves inside ``root`` (symlinks followed)."""
    safe_relpath(rel, kind=kind, where=where)
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise ConfigError(f"{kind} {rel!r} resolves outside {base}", path=where)
    return target
