"""Check every output path before anything is written: nothing partial on a bad ``--out``.

Why before: a command that writes ``frames/a.png`` and then finds that ``results.json`` is a
directory (or that ``--out`` is a file, or a folder it cannot write) would leave a half
output that looks like a run. Each writer lists the paths it will write and calls
:func:`check_writable` first, before any expensive work; the writes themselves stay atomic
(:mod:`gt_gen.atomic`). What this cannot foresee (a disk filling up mid-way) still fails
cleanly, one file at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from gt_gen.errors import ConfigError


def _nearest_existing(path: Path) -> tuple[Path, list[Path]]:
    """The deepest existing ancestor of ``path`` and the missing folders below it."""
    missing: list[Path] = []
    cur = path
    while not os.path.lexists(cur):
        missing.append(cur)
        if cur.parent == cur:
            break
        cur = cur.parent
    return cur, missing


def check_writable(targets: Iterable[str | Path], *, what: str = "output") -> None:
    """Raise :class:`ConfigError` naming the first target that cannot be written as a file.

    A target may not be a directory; every existing ancestor must be a directory (not a file,
    FIFO or device), and the deepest existing one must be writable, so that the missing
    folders and the file can be created there."""
    checked: set[Path] = set()
    for t in targets:
        target = Path(t)
        if os.path.isdir(target):
            raise ConfigError(f"{what} {target} is a directory; a file must be written there "
                              "(remove it or choose another --out)", path=target)
        if os.path.lexists(target) and not os.path.isfile(target) and not os.path.islink(target):
            raise ConfigError(f"{what} {target} exists and is not a regular file", path=target)
        parent = target.parent
        if parent in checked:
            continue
        anchor, _ = _nearest_existing(parent)
        if not os.path.isdir(anchor):
            raise ConfigError(f"cannot write {what} {target}: {anchor} is a file, not a folder",
                              path=target)
        if not os.access(anchor, os.W_OK | os.X_OK):
            raise ConfigError(f"cannot write {what} {target}: folder {anchor} is not writable "
                              "(permission denied)", path=target)
        checked.add(parent)


def check_out_dir(out: str | Path, names: Iterable[str], *, what: str = "output") -> None:
    """:func:`check_writable` for ``out/name`` of every name (``/`` allowed in names)."""
    check_writable([Path(out) / n for n in names], what=what)
