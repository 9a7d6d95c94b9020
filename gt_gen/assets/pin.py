"""Pin URL inputs: download all, check all, then write files and the lock — or write nothing.

Order matters for "nothing partial": every URL is downloaded and decoded in memory first; only
when all of them are good does anything touch the assets folder. Each file is then written
atomically under a name derived from its URL and content (``<stem>-<sha256[:12]>.<ext>``, so a
re-pin of the same bytes rewrites the same file), and the lock last, atomically. A run killed
while downloading leaves the folder as it was; one killed while writing leaves at most a
complete, unreferenced file or a hidden ``.*.part*`` temp file, which the next ``pin`` sweeps
and ``verify`` reports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from gt_gen.assets.lock import FORMATS, Lock, Pin, read_lock, write_lock
from gt_gen.errors import IntegrityError
from gt_gen.names import safe_name

#: A temp file of :func:`gt_gen.atomic.atomic_path` (``.<name>.<random>.part<suffix>``).
PARTIAL_RE = re.compile(r"^\..+\.part(\.[A-Za-z0-9]+)?$")


@dataclass(frozen=True)
class PinResult:
    url: str
    pin: Pin
    #: ``pinned`` (new), ``kept`` (already pinned, untouched), ``unchanged`` (re-downloaded with
    #: --force, same bytes) or ``changed`` (re-downloaded, the URL now serves other bytes).
    status: str
    previous_sha256: str = ""


def asset_name(url: str, sha256: str, fmt: str) -> str:
    """A safe file name for ``url``'s bytes: its last path segment's stem, sanitised, then the
    content digest's first 12 hex digits and the extension of the decoded format."""
    last = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]).rsplit("/", 1)[-1]
    stem = last.rsplit(".", 1)[0] if "." in last else last
    stem = re.sub(r"[^A-Za-z0-9_+-]+", "_", stem).strip("_+-")[:60] or "input"
    return safe_name(f"{stem}-{sha256[:12]}.{FORMATS[fmt]}", kind="pinned file name")


def partial_files(folder: Path) -> list[Path]:
    """Temp files an interrupted atomic write left in ``folder``."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if PARTIAL_RE.match(p.name) and p.is_file()
                  and not p.is_symlink())


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pin_urls(urls: list[str], folder: Path, *, force: bool = False,
             fetcher: Callable[[str], Any] | None = None,
             now: Callable[[], str] = _now) -> list[PinResult]:
    """Pin every URL of ``urls`` into ``folder`` (see the module docstring).

    ``fetcher(url) -> Fetched`` downloads (default :func:`gt_gen.assets.download.fetch`).
    A URL already pinned is kept unless ``force``; its file must still hold the pinned bytes,
    else nothing is downloaded and the error says how to restore or re-pin it."""
    from gt_gen.assets.image_check import check_image
    from gt_gen.assets.resolve import read_pin
    from gt_gen.redact import redact

    from gt_gen.assets.download import fetch

    get = fetcher or fetch
    lock = read_lock(folder)  # a malformed lock stops everything before any request
    results: dict[str, PinResult] = {}
    if not force:
        broken = []
        for url in urls:
            if url in lock.pins:
                data, problem = read_pin(lock.pins[url])
                if data is None:
                    broken.append(f"{lock.pins[url].file} ({problem})")
                results[url] = PinResult(url, lock.pins[url], "kept")
        if broken:
            raise IntegrityError(f"pinned input file(s) {', '.join(broken)} no longer hold the "
                                 "pinned bytes: restore them from git, or rerun with --force to "
                                 "download and pin again", path=lock.path)
    todo = [u for u in dict.fromkeys(urls) if u not in results]
    fetched: list[tuple[str, Pin]] = []
    blobs: dict[str, bytes] = {}
    for url in todo:  # everything in memory first: one bad URL and nothing is written
        got = get(url)
        info = check_image(got.data, what=redact(url))
        sha = hashlib.sha256(got.data).hexdigest()
        name = asset_name(url, sha, info.format)
        pin = Pin(url=url, file=name, sha256=sha, size_bytes=len(got.data), pinned_at=now(),
                  format=info.format, width=info.width, height=info.height,
                  served_from=got.served_from, path=folder / name)
        fetched.append((url, pin))
        blobs[name] = got.data
    if not fetched:
        return [results[u] for u in dict.fromkeys(urls)]
    folder.mkdir(parents=True, exist_ok=True)
    with _folder_lock(folder):  # two pins at once: one writes at a time, each keeps the other's
        return _write_pins(folder, urls, fetched, blobs, results)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on the assets folder itself (no lock file left behind)."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_pins(folder: Path, urls: list[str], fetched: list[tuple[str, Pin]],
                blobs: dict[str, bytes], results: dict[str, PinResult]) -> list[PinResult]:
    """Write the downloaded files, then the lock (under :func:`_folder_lock`)."""
    from gt_gen.atomic import write_bytes

    for stale in partial_files(folder):
        stale.unlink()
    for name, data in blobs.items():
        target = folder / name
        if not (target.is_file() and not target.is_symlink() and target.read_bytes() == data):
            write_bytes(target, data)
    fresh = read_lock(folder)  # re-read: keep what another run pinned meanwhile
    pins = dict(fresh.pins)
    for url, pin in fetched:
        old = pins.get(url)
        if old is not None and old.sha256 == pin.sha256:
            pin = replace(pin, pinned_at=old.pinned_at)  # same bytes: the lock does not churn
            results[url] = PinResult(url, pin, "unchanged", old.sha256)
        else:
            results[url] = PinResult(url, pin, "changed" if old else "pinned",
                                     old.sha256 if old else "")
        pins[url] = pin
    write_lock(Lock(folder=folder, pins=pins))
    still = {p.file for p in pins.values()}
    for url, _ in fetched:  # a re-pinned URL's old file goes when nothing refers to it
        old = fresh.pins.get(url)
        if old is not None and old.file not in still and (folder / old.file).is_file():
            (folder / old.file).unlink()
    return [results[u] for u in dict.fromkeys(urls)]
