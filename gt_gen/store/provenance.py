"""Which implementation made a case's GT: written by ``publish``, read back by ``fetch`` / ``compare``.

Why: sglang's official GT comes from more than one official implementation, and its ci-data
``case_map.json`` names the one of each entry in ``source``: ``diffusers`` (the diffusers
pipelines of ``repro_scripts/gen_official_diffusion_gt.py``), ``ltx_official_repo`` (the LTX-2
packages of ``gen_official_ltx23.py``) and, for ``wan2_1_t2v_1.3b``, ``wan2.1_official_repo`` (the
Wan2.1 repository's ``WanT2V``, ``run_official_wan21.sh``; sglang's
``python/sglang/multimodal_gen/test/scripts/gen_official_diffusion_gt.py`` sends the cases of its
``WAN_OFFICIAL_CASES`` there). gt-gen makes the Wan GT with Wan-AI's diffusers release instead.
Both are official; GT from one must never stand in silently for the other's. So:

* ``publish`` writes the implementation into every case_map entry it writes -- ``source``, the
  name in sglang's own words (:data:`gt_gen.cases.BACKEND_GT_SOURCE`), and ``implementation`` /
  ``backend`` / ``pipeline`` / ``precision`` from the generate manifest -- and into the folder's
  manifest (``implementation_source`` of every file);
* it refuses to replace a case's GT made by another implementation (exit 2, nothing written)
  unless ``--replace-implementation``, which keeps the replaced entry under ``replaced``;
* ``fetch`` / ``compare`` record the GT's implementation and say so when it is not the one the
  registry runs for the case: a note, never another verdict (sglang's verdict stands).

Who made GT already in a folder (:func:`existing`), first answer wins:

1. the case_map entry's ``source`` (sglang's mark and gt-gen's), unless it is ``gt-gen``, which an
   older gt-gen wrote as the source of entries it added;
2. the folder manifest's ``implementation_source`` of the case's files (gt-gen's mark);
3. files an older gt-gen published (listed for the case in the folder manifest, or an entry
   whose ``source`` is ``gt-gen``): the implementation the registry runs for the case;
4. GT with no mark at all is sglang's: in ``official_generated`` made by the implementation the
   registry says sglang uses for the case (:attr:`gt_gen.cases.Case.sglang_gt`), in
   ``sglang_generated`` by sglang itself.

Marks that disagree (the entry and the manifest; two files of one case; an entry naming another
implementation over files an older gt-gen published) are contradictory provenance: an
:class:`~gt_gen.errors.IntegrityError`, never a guess. So is a generate manifest that says the GT
was made otherwise than the registry's case says (another backend, pipeline, precision or
implementation: the case changed after ``generate``).

Implementation names and details are names, never paths: they are compared, printed (escaped,
so a name cannot break the one-line error) and written as JSON strings, nothing else.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gt_gen import jsonio
from gt_gen.cases import BACKEND_GT_SOURCE, GT_SOURCE_RE, Case
from gt_gen.errors import IntegrityError, UsageError
from gt_gen.naming import image_names, key_frame_names, video_name
from gt_gen.store.integrity import (FETCH_RECORD, MANIFEST, PUBLISHED_BY, PUBLISHED_BY_KEY,
                                    GtUnknownError)
from gt_gen.store.layout import CASE_MAP, GT_ROOT, REPLACED, TARGETS, raw_entries

#: The case_map entry key naming the implementation (sglang's own key).
SOURCE = "source"
#: What an older gt-gen wrote as the ``source`` of an entry it added (a publisher, not an
#: implementation).
LEGACY_SOURCE = "gt-gen"
#: The details ``publish`` copies from the generate manifest into the entry (where it has them).
DETAILS = ("implementation", "backend", "pipeline", "precision")
#: Key of every file of the folder manifest that ``publish`` writes.
MANIFEST_KEY = "implementation_source"
#: Who made unmarked GT in ``sglang_generated``: sglang itself.
SGLANG_ENGINE = "sglang"
#: Longest implementation detail written (the registry's sentence is a few hundred characters).
MAX_DETAIL = 2000


def shown(value: object) -> str:
    """``value`` for a one-line message: as is when it is a plain name, else escaped
    (``ascii``), at most 120 characters: a name read from a file cannot break the line."""
    if isinstance(value, str) and GT_SOURCE_RE.match(value):
        return value
    text = ascii(value)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass(frozen=True)
class GtImplementation:
    """The implementation a case's GT comes from (``source`` None: not known) and what said so."""

    source: str | None
    declared_by: str
    details: dict[str, str] = field(default_factory=dict)

    def as_json(self, case: Case) -> dict[str, Any]:
        """What fetch.json and results.json record: beside the GT's implementation, the one the
        registry runs for the case and whether they are the same (None: not known)."""
        return {"source": self.source, "declared_by": self.declared_by,
                "registry": case.gt_source,
                "same_as_registry": None if self.source is None else self.source == case.gt_source,
                **({"details": dict(self.details)} if self.details else {})}


def target_of(folder: str | None) -> str | None:
    """``official_generated`` / ``sglang_generated`` for a ci-data GT folder (platform
    subfolders included); None for any other folder (a generate or fetch output)."""
    for target in TARGETS:
        base = f"{GT_ROOT}/{target}"
        if folder and (folder == base or folder.startswith(base + "/")):
            return target
    return None


def gt_file_names(case: Case) -> list[str]:
    """Every name the case's GT may have in a folder: its key frames (or each image name
    sglang's lookup tries) and the GT video."""
    if case.modality == "video":
        return [*key_frame_names(case).values(), video_name(case)]
    return image_names(case)


def _text(value: Any, what: str, where: str, case_id: str, *, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise IntegrityError(f"{what} of case {case_id} is {shown(value)}, not a name: the GT's "
                             "provenance cannot be told, refusing to use it", path=where)
    return value


# -- the GT about to be published ----------------------------------------------------------
def new_gt(case: Case, entry: dict[str, Any] | None, where: str) -> GtImplementation:
    """The implementation of ``case``'s GT in a generate output folder, from its manifest
    ``entry``, checked against the registry: a manifest that says the GT was made otherwise
    (backend, pipeline, precision, implementation) is refused -- the case changed after
    ``generate``, or the GT is not this case's. Fields the manifest lacks (an older gt-gen)
    are the registry's."""
    entry = entry or {}
    want = {"backend": case.backend, "pipeline": case.pipeline, "precision": case.precision,
            "implementation": case.implementation}
    details: dict[str, str] = {}
    for key, manifest_key in (("backend", "backend"), ("pipeline", "pipeline"),
                              ("precision", "precision"), ("precision", "dtype"),
                              ("implementation", "implementation")):
        if manifest_key not in entry or key in details:
            continue
        got = _text(entry[manifest_key], f"the generate manifest's {manifest_key}", where, case.id,
                    limit=MAX_DETAIL)
        if want[key] and got != want[key]:
            raise IntegrityError(
                f"case {case.id}: the generate manifest says its GT was made with {key} "
                f"{shown(got)}, the registry's case says {shown(want[key])}: GT of another "
                "implementation or an edited case; regenerate it, refusing to publish", path=where)
        details[key] = got
    return GtImplementation(case.gt_source, "generate manifest" if details else "registry", details)


# -- GT already in a folder ------------------------------------------------------------------
def _entry_source(entry: Any, where: str, case_id: str) -> str | None:
    if not isinstance(entry, dict) or entry.get(SOURCE) is None:
        return None
    return _text(entry[SOURCE], f"{where}: the case_map source", where, case_id)


def entry_details(entry: Any, where: str, case_id: str) -> dict[str, str]:
    """The implementation details a case_map entry declares (``implementation`` ...)."""
    if not isinstance(entry, dict):
        return {}
    return {k: _text(entry[k], f"{where}: the case_map {k}", where, case_id, limit=MAX_DETAIL)
            for k in DETAILS if entry.get(k) is not None}


def existing(case: Case, target: str, entry: Any, manifest_files: dict[str, Any],
             present: list[str], where: str) -> GtImplementation | None:
    """Who made the GT of ``case`` already in a folder of ``target`` (module docstring), or
    None when there is none. ``entry``: the case's case_map entry as the file holds it (None:
    not listed); ``manifest_files``: the folder manifest's ``files``; ``present``: the case's
    GT file names that are in the folder."""
    names = set(gt_file_names(case))
    ours = {n: e for n, e in manifest_files.items()
            if n in names and isinstance(e, dict) and e.get("case") == case.id}
    marked = {n: _text(e[MANIFEST_KEY], f"the manifest's {MANIFEST_KEY} of {n}", where, case.id)
              for n, e in ours.items() if e.get(MANIFEST_KEY) is not None}
    claims = set(marked.values())
    if len(claims) > 1:
        raise IntegrityError(f"case {case.id}: the folder manifest says its files were made by "
                             f"different implementations ({', '.join(sorted(shown(c) for c in claims))}): "
                             "contradictory GT provenance, refusing to use it", path=where)
    source = _entry_source(entry, where, case.id)
    details = entry_details(entry, where, case.id)
    if source is not None and source != LEGACY_SOURCE:
        other = (next(iter(claims)) if claims else
                 case.gt_source if ours and source != case.gt_source else None)
        if other is not None and other != source:
            raise IntegrityError(
                f"case {case.id}: case_map.json says its GT was made by {shown(source)}, the folder "
                f"manifest by {shown(other)}"
                + ("" if claims else " (files an older gt-gen published)")
                + ": contradictory GT provenance, refusing to use it", path=where)
        return GtImplementation(source, "case_map source", details)
    if claims:
        return GtImplementation(next(iter(claims)), "manifest", details)
    if ours or source == LEGACY_SOURCE:
        return GtImplementation(case.gt_source, "older gt-gen publish (registry)", details)
    if entry is None and not present:
        return None
    if target == "sglang_generated":
        return GtImplementation(SGLANG_ENGINE, "no mark: sglang_generated GT is sglang's", details)
    return GtImplementation(case.sglang_gt, "no mark: sglang's GT (registry sglang_gt_source)"
                            if case.sglang_gt_source else "no mark: sglang's GT (registry)", details)


def decide(case: Case, folder: str, old: GtImplementation | None, new: GtImplementation,
           *, replace: bool) -> GtImplementation | None:
    """``old`` when publishing ``new`` replaces GT of another implementation on purpose
    (``replace``), None when nothing is replaced across implementations; without ``replace``
    such a publish is refused: one line naming the case and both implementations."""
    if old is None or old.source == new.source:
        return None
    if not replace:
        raise UsageError(
            f"case {case.id}: {folder} holds GT made by {shown(old.source)} ({old.declared_by}); "
            f"this GT was made by {shown(new.source)}: another implementation, refusing to replace it (nothing "
            "written; pass --replace-implementation to replace it on purpose)", case_id=case.id)
    return old


def entry_marks(new: GtImplementation, replaced: GtImplementation | None,
                old_entry: Any) -> dict[str, Any]:
    """The keys ``publish`` sets on the case's case_map entry (beside ``outputs``); a detail
    the new GT does not declare is None, so a stale one of the old entry goes."""
    marks: dict[str, Any] = {SOURCE: new.source, **{k: new.details.get(k) for k in DETAILS},
                             PUBLISHED_BY_KEY: PUBLISHED_BY}
    if replaced is not None:
        kept = {k: v for k, v in (old_entry.items() if isinstance(old_entry, dict) else ())
                if k not in ("outputs", REPLACED)}
        marks[REPLACED] = {**kept, SOURCE: replaced.source, "declared_by": replaced.declared_by}
    return marks


# -- fetch / compare: the GT that was found --------------------------------------------------
def _record_impl(record: Any, case: Case, where: str) -> GtImplementation | None:
    """The implementation a ``fetch.json`` recorded for ``case`` (None: it recorded none)."""
    try:
        got = record["cases"][case.id]["gt_implementation"]
    except (KeyError, TypeError):
        return None
    if not isinstance(got, dict) or not isinstance(got.get("declared_by"), str):
        raise IntegrityError(f"the gt_implementation fetch.json recorded for case {case.id} is "
                             "malformed: the GT's provenance cannot be told", path=where)
    src = got.get(SOURCE)
    if src is not None:
        src = _text(src, "the recorded implementation", where, case.id)
    details = got.get("details") or {}
    if not isinstance(details, dict):
        raise IntegrityError(f"the implementation details fetch.json recorded for case {case.id} "
                             "are malformed", path=where)
    return GtImplementation(src, f"fetch.json ({got['declared_by']})",
                            {k: _text(v, f"recorded {k}", where, case.id, limit=MAX_DETAIL)
                             for k, v in details.items() if k in DETAILS})


def _generate_impl(manifest: Any, case: Case) -> GtImplementation | None:
    """From a generate manifest's entry: the backend names the implementation."""
    entry = manifest.get("cases", {}).get(case.id) if isinstance(manifest, dict) and isinstance(
        manifest.get("cases"), dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("backend"), str):
        return None
    src = BACKEND_GT_SOURCE.get(entry["backend"])
    details = {k: entry[m] for k, m in (("implementation", "implementation"), ("backend", "backend"),
                                         ("pipeline", "pipeline"), ("precision", "precision"),
                                         ("precision", "dtype"))
               if isinstance(entry.get(m), str) and len(entry[m]) <= MAX_DETAIL}
    return GtImplementation(src, "generate manifest" if src else
                            f"generate manifest (unknown backend {shown(entry['backend'])})", details)


def found_gt(read: Callable[[str], bytes | None], folder: str | None, case: Case,
             present: list[str]) -> GtImplementation:
    """The implementation of the GT of ``case`` found in ``folder`` of a source.

    ``read(relpath)`` returns a file's bytes, None when it is not there, and raises when that
    is not known. A ci-data folder answers through its case_map.json and manifest
    (:func:`existing`); a fetch output through its ``fetch.json``; a generate output through
    its manifest."""
    fold = "" if folder in (None, ".") else str(folder)

    def rel(name: str) -> str:
        return posixpath.join(fold, name) if fold else name

    def read_json(name: str) -> Any:
        data = read(rel(name))
        return None if data is None else jsonio.loads(data, rel(name))

    target = target_of(fold)
    if target is not None:
        cmap = read(rel(CASE_MAP))
        entries = raw_entries(cmap, rel(CASE_MAP)) if cmap is not None else {}
        manifest = read_json(MANIFEST)
        files = manifest.get("files") if isinstance(manifest, dict) else None
        got = existing(case, target, entries.get(case.id), files if isinstance(files, dict) else {},
                       present, rel(CASE_MAP))
        return got or GtImplementation(None, "unknown: nothing says who made it")
    record = read_json(FETCH_RECORD)
    if record is not None:
        got = _record_impl(record, case, rel(FETCH_RECORD))
        if got is not None:
            return got
    manifest = read_json(MANIFEST)
    if manifest is not None and record is None:
        got = _generate_impl(manifest, case)
        if got is not None:
            return got
    return GtImplementation(None, "unknown: no case_map.json, fetch.json or generate manifest says")


def of_found_gt(reader: Any, folder: str | None, case: Case, files: list[str]) -> GtImplementation:
    """:func:`found_gt` through a :class:`~gt_gen.store.integrity.Verifier` (``files``: the
    relpaths of the GT found). Network trouble leaves the implementation unknown, said so,
    never another verdict; contradictory provenance raises."""
    try:
        return found_gt(reader.optional, folder, case, [posixpath.basename(f) for f in files])
    except GtUnknownError as exc:
        return GtImplementation(None, f"unknown: {exc.one_line()}")


def note(case: Case, impl: GtImplementation) -> str:
    """A note when an official case's GT comes from another implementation than the one the
    registry runs for it ("" otherwise): told, never a different verdict."""
    if not case.is_official or impl.source is None or impl.source == case.gt_source:
        return ""
    return (f"GT made by {shown(impl.source)} ({impl.declared_by}), not by {case.gt_source}, which gt-gen "
            "runs for this case: another official implementation (verdict unchanged)")

