"""Every GT file is checked before it is decoded or compared: fail closed.

Records a folder can carry (the first one found is the one checked):

* ``manifest.json`` — written by ``gt-gen generate`` (``cases.*.files``) and by
  ``gt-gen publish`` (``files``): the sha256 of every GT file beside it.
* ``fetch.json`` — written by ``gt-gen fetch``: the sha256 of every file it copied, so a file
  changed after the fetch is caught when the folder is compared later.

A file whose bytes differ, or that the record does not list, raises :class:`IntegrityError`
(tampering, never a decode failure: bytes are checked before they are decoded). When the
answer about a folder's manifest is *unknown* (503, reset, timeout), the GT beside it is
:class:`GtUnknownError` (the case is ``unknown_gt``), never read unverified.

A folder with no record at all (sglang's own ci-data has none) may be read, but is marked
*unverified*, and with ``require_manifest`` it is refused (:class:`ManifestMissingError`).
By default that is required when the source *looks published by gt-gen*: the folder's
``case_map.json`` carries ``"published_by": "gt-gen"`` (``publish`` writes it), or another GT
folder of the source (either target, the platform subfolder or the default, or the root, where
``generate`` writes its manifest) has a ``manifest.json``. If that cannot be told (network trouble), the case is unknown.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Any

from gt_gen import jsonio
from gt_gen.errors import ConfigError, GtGenError, IntegrityError, NetworkError
from gt_gen.names import safe_name
from gt_gen.store.layout import CASE_MAP, TARGETS, folder as layout_folder
from gt_gen.store.source import GtSource, Presence

MANIFEST = "manifest.json"
FETCH_RECORD = "fetch.json"
#: Key ``publish`` writes into each ``case_map.json`` it touches (sglang's readers ignore it).
PUBLISHED_BY_KEY = "published_by"
PUBLISHED_BY = "gt-gen"

VERIFIED_MANIFEST = "manifest"
VERIFIED_FETCH = "fetch.json"
UNVERIFIED = "unverified"


class GtUnknownError(NetworkError):
    """Whether (or how) a GT folder can be verified is unknown: network trouble. The case is
    ``unknown_gt``, never compared unverified and never a pass."""


class ManifestMissingError(IntegrityError):
    """A GT folder has no manifest while one is required (``--require-manifest``)."""


def _sha_ok(v: object) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


def parse_manifest(data: bytes, where: str) -> dict[str, str]:
    """File name -> sha256 from a publish manifest (``files``) or a generate manifest
    (``cases.*.files``). A manifest that cannot be read makes every file beside it
    unverifiable, so it is an :class:`IntegrityError`, never a silent skip; so is one whose
    shape is wrong (each fault named: which key, what it holds), a listed name that is not a
    plain file name (a manifest lists the files beside it: ``../x`` or ``/etc/passwd`` is
    not one of them), and a file listed twice with two different sha256 (which of them would
    be checked would depend on the order of the keys)."""
    try:
        obj: Any = jsonio.loads(data, where)
    except ConfigError as exc:
        raise IntegrityError(f"unreadable manifest ({' '.join(str(exc).split())}); cannot verify "
                             "the GT beside it, refusing to compare", path=where) from exc

    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"malformed manifest: {why}; cannot verify the GT beside it, refusing "
                              "to compare", path=where)

    if not isinstance(obj, dict):
        raise bad(f"the top level is {_kind(obj)}, not an object")
    tables: list[tuple[str, object]] = []
    if obj.get("files") is not None:
        tables.append(("files", obj["files"]))
    cases = obj.get("cases")
    if cases is not None and not isinstance(cases, dict):
        raise bad(f"'cases' is {_kind(cases)}, not an object")
    if isinstance(cases, dict) and not obj.get("files"):  # a generate manifest
        for cid, entry in cases.items():
            try:
                safe_name(cid, kind="case id")
            except ConfigError:
                raise bad(f"'cases' holds {str(cid)[:80]!r}, which is not a case id") from None
            if not isinstance(entry, dict):
                raise bad(f"case {str(cid)[:80]!r} is {_kind(entry)}, not an object")
            if entry.get("files") is not None:  # a case that failed to generate lists none
                tables.append((f"cases.{str(cid)[:80]}.files", entry["files"]))
    listed: dict[str, str] = {}
    for label, files in tables:
        if not isinstance(files, dict):
            raise bad(f"'{label}' is {_kind(files)}, not an object of file names")
        for name, value in files.items():
            try:
                safe_name(name, kind="file name")
            except ConfigError:
                raise bad(f"'{label}' lists {str(name)[:80]!r}, which is not a plain file name") from None
            digest = value.get("sha256") if isinstance(value, dict) else value
            if not _sha_ok(digest):
                raise bad(f"'{label}' gives {name} a sha256 that is not 64 lowercase hex digits")
            if listed.setdefault(name, str(digest)) != digest:
                raise bad(f"{name} is listed twice with different sha256")
    return listed


def _kind(v: object) -> str:
    """What a JSON value is, for a message: ``a list``, ``null``, ``a number``, ..."""
    if v is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(v), "a number")


def parse_fetch_record(data: bytes, where: str) -> tuple[dict[str, str], set[str]]:
    """File name -> sha256 from a ``fetch.json``, and the names fetched *unverified* (their
    source folder had no manifest), which stay unverified when compared later."""
    listed: dict[str, str] = {}
    unverified: set[str] = set()
    try:
        obj: Any = jsonio.loads(data, where)
        for entry in obj["cases"].values():
            if entry.get("status") != "present":
                continue
            names = {str(k): v for k, v in entry["files"].items()}
            listed.update(names)
            if entry.get("gt_verification") != VERIFIED_MANIFEST:
                unverified |= set(names)
    except ConfigError as exc:
        raise IntegrityError(f"unreadable fetch record ({' '.join(str(exc).split())}); cannot "
                             "verify the GT beside it, refusing to compare", path=where) from exc
    except (AttributeError, KeyError, TypeError) as exc:
        raise IntegrityError(f"unreadable fetch record ({type(exc).__name__}); cannot verify the "
                             "GT beside it, refusing to compare", path=where) from exc
    if not all(_sha_ok(v) for v in listed.values()):
        raise IntegrityError("fetch record lists a sha256 that is not 64 lowercase hex digits; "
                             "refusing to compare", path=where)
    return listed, unverified


@dataclass(frozen=True)
class FolderRecords:
    """What one folder's files are checked against: ``(record relpath, name -> sha256)``."""

    records: tuple[tuple[str, dict[str, str]], ...]
    unverified_names: frozenset[str] = frozenset()

    @property
    def verified(self) -> bool:
        return bool(self.records)


class Verifier:
    """Reads GT through its folder's records; raises on a mismatch; caches records per folder.

    ``require_manifest``: True refuses a folder without a record, False reads it (marked
    unverified), None (the default) decides per source, as the module docstring says."""

    def __init__(self, source: GtSource, *, require_manifest: bool | None = None,
                 platform: str | None = None) -> None:
        self.source = source
        self.require_manifest = require_manifest
        self.platform = platform
        self._folders: dict[str, FolderRecords] = {}
        self._optional: dict[str, bytes | None] = {}
        self._published: bool | None = None
        #: relpath -> how it was verified (``manifest``, ``fetch.json`` or ``unverified``).
        self.verified_by: dict[str, str] = {}

    # -- what a folder is checked against -------------------------------------------------
    def _probe(self, rel: str) -> Presence:
        return self.source.probe(rel)

    def _fetch(self, rel: str) -> bytes:
        try:
            return self.source.read_bytes(rel)
        except NetworkError as exc:
            raise GtUnknownError(f"{rel} could not be downloaded ({exc.one_line()}); the GT beside "
                                 "it cannot be verified, so it is unknown, not compared", path=rel) from exc
        except GtGenError as exc:  # probed present, then gone: the state is not known
            raise GtUnknownError(f"{rel} was probed present but could not be read "
                                 f"({exc.one_line()}); GT state unknown, not compared", path=rel) from exc

    def _why(self) -> str:
        err = getattr(self.source, "last_error", "")
        return f" ({err})" if err else ""

    def records(self, folder: str) -> FolderRecords:
        """The records of ``folder`` (``""`` is the root); raises when it must not be read."""
        if folder in self._folders:
            return self._folders[folder]
        found: list[tuple[str, dict[str, str]]] = []
        unverified: set[str] = set()
        for name in (MANIFEST, FETCH_RECORD):
            if found:  # a folder with a manifest is checked against it (fetch never writes one)
                break
            rel = posixpath.join(folder, name) if folder else name
            p = self._probe(rel)
            if p is Presence.UNKNOWN:
                raise GtUnknownError(f"whether {rel} exists is unknown{self._why()}; the GT beside it "
                                     "cannot be verified, so it is unknown, not compared", path=rel)
            if p is Presence.PRESENT:
                data = self._fetch(rel)
                if name == MANIFEST:
                    found.append((rel, parse_manifest(data, rel)))
                else:
                    listed, unverified = parse_fetch_record(data, rel)
                    found.append((rel, listed))
        if not found:
            self._require_or_allow(folder)
        rec = FolderRecords(tuple(found), frozenset(unverified))
        self._folders[folder] = rec
        return rec

    def _require_or_allow(self, folder: str) -> None:
        where = folder or "."
        if self.require_manifest is False:
            return
        if self.require_manifest:
            raise ManifestMissingError(f"no {MANIFEST} in GT folder {where} and --require-manifest "
                                       "is on: its GT cannot be verified, not compared", path=where)
        why = self._looks_published(folder)
        if why:
            raise ManifestMissingError(
                f"no {MANIFEST} in GT folder {where}, but {why}: the source was published by gt-gen, "
                "so GT without its manifest is refused (pass --no-require-manifest to read it "
                "unverified)", path=where)

    def _looks_published(self, folder: str) -> str:
        """Why the source looks gt-gen published ("" if it does not); unknown raises."""
        unknown: list[str] = []
        cmap = posixpath.join(folder, CASE_MAP) if folder else CASE_MAP
        p = self._probe(cmap)
        if p is Presence.UNKNOWN:
            unknown.append(cmap)
        elif p is Presence.PRESENT:
            try:
                obj = jsonio.loads(self._fetch(cmap), cmap)
            except ConfigError:
                obj = None  # a hint only; the lookup reports a malformed case_map itself
            if isinstance(obj, dict) and obj.get(PUBLISHED_BY_KEY) == PUBLISHED_BY:
                return f"its {cmap} says it was published by gt-gen"
        # The root too: a `generate` folder keeps its manifest there, and a ci-data layout
        # planted beside it (diffusion-ci/consistency_gt/...) is looked up first.
        others = [layout_folder(t, plat) for t in TARGETS
                  for plat in ([self.platform] if self.platform else []) + [None]] + [""]
        for other in others:
            if other == folder:
                continue
            rel = posixpath.join(other, MANIFEST) if other else MANIFEST
            p = self._probe(rel)
            if p is Presence.PRESENT:
                return f"{rel} exists"
            if p is Presence.UNKNOWN:
                unknown.append(rel)
        if unknown:
            raise GtUnknownError(f"GT folder {folder or '.'} has no {MANIFEST}, and whether the source "
                                 f"was published by gt-gen (which would require one) is unknown: "
                                 f"{unknown[0]} could not be probed{self._why()}; not compared",
                                 path=folder or ".")
        return ""

    def optional(self, relpath: str) -> bytes | None:
        """A bookkeeping file beside GT (``case_map.json``, ``manifest.json``, ``fetch.json``)
        as the source holds it, None when it is not there; :class:`GtUnknownError` when that is
        not known. Read once per run (the GT's provenance is told from these)."""
        if relpath not in self._optional:
            p = self._probe(relpath)
            if p is Presence.UNKNOWN:
                raise GtUnknownError(f"whether {relpath} exists is unknown{self._why()}", path=relpath)
            self._optional[relpath] = self._fetch(relpath) if p is Presence.PRESENT else None
        return self._optional[relpath]

    # -- reading --------------------------------------------------------------------------
    def read(self, relpath: str) -> bytes:
        """The bytes of ``relpath`` from the source, checked against its folder's records
        before anything decodes them: the one way GT is read for comparing or fetching."""
        self.records(posixpath.split(relpath)[0])  # before downloading: unknown stays unknown
        try:
            data = self.source.read_bytes(relpath)
        except NetworkError as exc:
            if isinstance(exc, GtUnknownError):
                raise
            raise GtUnknownError(f"{relpath} could not be downloaded ({exc.one_line()}); GT state "
                                 "unknown, not compared", path=relpath) from exc
        self(relpath, data)
        return data

    def verification(self, relpaths: list[str]) -> str:
        """How the files were verified, the weakest of them: ``unverified`` if any was not."""
        ways = {self.verified_by.get(r, UNVERIFIED) for r in relpaths}
        if not ways or UNVERIFIED in ways:
            return UNVERIFIED
        return VERIFIED_MANIFEST if VERIFIED_MANIFEST in ways else VERIFIED_FETCH

    def _evicted(self, rels: list[str]) -> str:
        evict = getattr(self.source, "evict_cached", None)
        if evict is None:
            return ""
        where = [w for r in rels if (w := evict(r))]
        if not where:
            return ""
        return (f"; the gt-gen cache's copy ({where[0]}) was evicted: the next run downloads "
                "it again")

    def __call__(self, relpath: str, data: bytes) -> None:
        folder, name = posixpath.split(relpath)
        rec = self.records(folder)
        digest = hashlib.sha256(data).hexdigest()
        for record, listed in rec.records:
            if name not in listed:
                raise IntegrityError(f"{relpath} is not listed in {record}; cannot verify it, "
                                     f"refusing to compare{self._evicted([record])}", path=relpath)
            if digest != listed[name]:
                raise IntegrityError(f"{relpath}: sha256 {digest[:12]}… does not match the manifest "
                                     f"{record} ({listed[name][:12]}…): tampered, truncated or changed "
                                     f"after it was written, not compared"
                                     f"{self._evicted([relpath, record])}", path=relpath)
        if name in rec.unverified_names and self.require_manifest:
            raise ManifestMissingError(f"{relpath} was fetched from a GT folder without a {MANIFEST} "
                                       "(see fetch.json) and --require-manifest is on: not compared",
                                       path=relpath)
        if not rec.verified or name in rec.unverified_names:
            self.verified_by[relpath] = UNVERIFIED
        else:
            self.verified_by[relpath] = (VERIFIED_MANIFEST if any(r.endswith(MANIFEST) for r, _ in rec.records)
                                         else VERIFIED_FETCH)
