"""``assets.lock.json``: which bytes stand for each input URL (read strictly, written atomically).

Shape (schema 1), keys sorted so that a re-pin shows as a small diff::

    {"_comment": "...", "schema_version": 1,
     "pins": {"https://host/x.jpg": {"file": "x-0123456789ab.jpg", "sha256": "<64 hex>",
              "size_bytes": 1234, "pinned_at": "2026-01-02T03:04:05Z", "format": "JPEG",
              "width": 1024, "height": 1536, "served_from": "https://host/x.jpg"}}}

Why strict: the lock decides which bytes GT is made from. A duplicate key, an unknown field, a
file name that is a path (``../x``) or a digest that is not 64 hex digits is an error naming the
lock, never a guess. ``served_from`` is where the bytes finally came from (after redirects,
without query), so a reviewer sees a GitHub release asset's storage host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gt_gen.assets import LOCK_NAME
from gt_gen.errors import ConfigError
from gt_gen.names import safe_name

SCHEMA_VERSION = 1
COMMENT = ("Input images that sglang's CI sends by URL, pinned by `gt-gen assets pin` (written by "
           "gt-gen: review the diff, do not edit by hand). Generation uses only these files, "
           "re-hashed against sha256; `gt-gen assets verify` re-hashes them.")
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_ENTRY_KEYS = {"file", "sha256", "size_bytes", "pinned_at", "format", "width", "height",
               "served_from"}
#: Largest pinned input accepted (sglang's inputs are well under a megabyte or two).
MAX_BYTES = 32 * 1024 * 1024
#: Sides of an accepted input image, in pixels (a sane photo, not a decompression bomb).
MIN_SIDE, MAX_SIDE = 16, 8192


def check_url(url: object, *, where: str | Path | None = None) -> str:
    """An input URL as a pin may key it: http(s), a host, no credentials, of sane length."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or len(url) > 2048 or any(c.isspace() for c in url):
        raise ConfigError("an input URL must be an http(s) URL of at most 2048 characters "
                          "without spaces", path=where)
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"malformed input URL: {exc}", path=where) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("an input URL must be http(s) with a host", path=where)
    if "@" in parts.netloc:
        from gt_gen.redact import redact

        raise ConfigError(f"input URL {redact(url)} carries credentials: an input image is "
                          "public (sglang's CI fetches it without any); remove user:password@",
                          path=where)
    return url


@dataclass(frozen=True)
class Pin:
    """One pinned URL: the file beside the lock and what it held when pinned."""

    url: str
    file: str
    sha256: str
    size_bytes: int
    pinned_at: str
    format: str
    width: int
    height: int
    served_from: str
    #: Where the file lies (the lock's folder / ``file``); not stored in the lock.
    path: Path = field(compare=False, default=Path())

    def record(self) -> dict[str, Any]:
        """The lock entry (and what a manifest records of the pin)."""
        return {"file": self.file, "sha256": self.sha256, "size_bytes": self.size_bytes,
                "pinned_at": self.pinned_at, "format": self.format, "width": self.width,
                "height": self.height, "served_from": self.served_from}


@dataclass(frozen=True)
class Lock:
    """The pins of one assets folder (empty when it has no lock yet)."""

    folder: Path
    pins: dict[str, Pin]

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME


def _entry(url: str, raw: Any, folder: Path, where: Path) -> Pin:
    w = f"pins[{url!r}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{w} must be an object", path=where)
    if set(raw) != _ENTRY_KEYS:
        missing, unknown = sorted(_ENTRY_KEYS - set(raw)), sorted(set(raw) - _ENTRY_KEYS)
        raise ConfigError(f"{w}: missing {missing}, unknown {unknown}", path=where)

    def typed(key: str, typ: type) -> Any:
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, typ):
            raise ConfigError(f"{w}.{key} must be {typ.__name__}", path=where)
        return value

    name = safe_name(typed("file", str), kind="pinned file name", where=where)
    sha = typed("sha256", str)
    if not _SHA_RE.match(sha):
        raise ConfigError(f"{w}.sha256 must be 64 lowercase hex digits", path=where)
    size = typed("size_bytes", int)
    if not 0 < size <= MAX_BYTES:
        raise ConfigError(f"{w}.size_bytes must be in [1, {MAX_BYTES}]", path=where)
    date = typed("pinned_at", str)
    if not _DATE_RE.match(date):
        raise ConfigError(f"{w}.pinned_at must be a UTC time like 2026-01-02T03:04:05Z", path=where)
    fmt = typed("format", str)
    if fmt not in FORMATS:
        raise ConfigError(f"{w}.format must be one of {sorted(FORMATS)}", path=where)
    width, height = typed("width", int), typed("height", int)
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ConfigError(f"{w}: {width}x{height} is outside [{MIN_SIDE}, {MAX_SIDE}] a side",
                          path=where)
    served = check_url(typed("served_from", str), where=where)
    return Pin(url=url, file=name, sha256=sha, size_bytes=size, pinned_at=date, format=fmt,
               width=width, height=height, served_from=served, path=folder / name)


def read_lock(folder: str | Path) -> Lock:
    """The lock of ``folder`` (an empty one when the file does not exist), strictly validated."""
    from gt_gen.jsonio import load_file

    folder = Path(folder)
    where = folder / LOCK_NAME
    if not where.exists() and not where.is_symlink():
        return Lock(folder=folder, pins={})
    data = load_file(where, what="assets lock")
    if not isinstance(data, dict):
        raise ConfigError("the assets lock must be a JSON object", path=where)
    unknown = sorted(set(data) - {"_comment", "schema_version", "pins"})
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in the assets lock", path=where)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"schema_version must be {SCHEMA_VERSION}, got "
                          f"{data.get('schema_version')!r}", path=where)
    raw = data.get("pins", {})
    if not isinstance(raw, dict):
        raise ConfigError("'pins' must be an object of url -> entry", path=where)
    pins: dict[str, Pin] = {}
    by_file: dict[str, str] = {}
    for url, entry in raw.items():
        check_url(url, where=where)
        pin = _entry(url, entry, folder, where)
        if by_file.setdefault(pin.file, pin.sha256) != pin.sha256:
            raise ConfigError(f"file {pin.file!r} is pinned with two different sha256", path=where)
        pins[url] = pin
    return Lock(folder=folder, pins=pins)


def write_lock(lock: Lock) -> Path:
    """Write ``lock`` atomically (a reader sees the old lock or the whole new one)."""
    from gt_gen.atomic import write_json

    body = {"_comment": COMMENT, "schema_version": SCHEMA_VERSION,
            "pins": {url: pin.record() for url, pin in sorted(lock.pins.items())}}
    return write_json(lock.path, body)
