"""Which folder of a ci-data tree holds a case's GT (design.md §2, exactly).

Order: the official folder, only for ``official``-comparable cases that its ``case_map.json``
lists; then ``sglang_generated``. Within each, the platform subfolder before the default. A
video uses a folder only if *all* its key frames are there. A tree without the ci-data
layout (e.g. ``gt-gen generate``'s output) is read flat as the last resort. An ``unknown``
probe (network trouble) makes the whole lookup ``unknown``: it never becomes ``missing``.
"""

from __future__ import annotations

from dataclasses import dataclass

import posixpath

from gt_gen.cases import Case
from gt_gen.errors import NetworkError
from gt_gen.naming import expected_outputs, image_names, key_frame_names, video_name
from gt_gen.store.layout import CASE_MAP, TARGETS, folder, parse_case_map
from gt_gen.store.source import GtSource, Presence


@dataclass(frozen=True)
class LookupResult:
    """Where the GT of one case was found (``files``: key -> relpath) or why not."""

    status: Presence
    folder: str | None = None
    files: dict[str, str] | None = None
    detail: str = ""


def _case_map(source: GtSource, fold: str) -> dict[str, list[str]] | None | Presence:
    rel = f"{fold}/{CASE_MAP}"
    p = source.probe(rel)
    if p is Presence.UNKNOWN:
        return Presence.UNKNOWN
    if p is Presence.MISSING:
        return None
    return parse_case_map(source.read_bytes(rel), rel)


def _files_in(source: GtSource, fold: str, case: Case) -> dict[str, str] | Presence:
    prefix = f"{fold}/" if fold else ""
    if case.modality == "video":
        wanted = {k: prefix + n for k, n in key_frame_names(case).items()}
        outcomes = {k: source.probe(p) for k, p in wanted.items()}
        if any(o is Presence.UNKNOWN for o in outcomes.values()):
            return Presence.UNKNOWN
        return wanted if all(o is Presence.PRESENT for o in outcomes.values()) else Presence.MISSING
    for name in image_names(case):  # sglang's order: .jpg, .png, .webp
        o = source.probe(prefix + name)
        if o is Presence.UNKNOWN:  # the preferred file may be there: never a later one instead
            return Presence.UNKNOWN
        if o is Presence.PRESENT:
            return {"first": prefix + name}
    return Presence.MISSING


def candidate_folders(source: GtSource, case: Case, platform: str | None) -> list[str] | Presence:
    """Folders to try, in order, honouring the official case_map rule."""
    out: list[str] = []
    for target in TARGETS:
        for plat in ([platform] if platform else []) + [None]:
            fold = folder(target, plat)
            if target == "official_generated":
                if not case.is_official:
                    continue
                cmap = _case_map(source, fold)
                if isinstance(cmap, Presence):
                    return Presence.UNKNOWN
                if not cmap or case.id not in cmap:
                    continue
            out.append(fold)
    return out


def _why(source: GtSource) -> str:
    """The source's last network failure, when it keeps one (the HTTP source does)."""
    err = getattr(source, "last_error", "")
    return f" ({err})" if err else " (network trouble)"


def locate(source: GtSource, case: Case, platform: str | None = None) -> LookupResult:
    """Find the folder holding every GT file of ``case``."""
    folders = candidate_folders(source, case, platform)
    if isinstance(folders, Presence):
        return LookupResult(Presence.UNKNOWN, detail="case_map.json could not be probed" + _why(source))
    for fold in [*folders, ""]:
        found = _files_in(source, fold, case)
        if found is Presence.UNKNOWN:
            # A folder earlier in the order might hold the GT: falling through to a later
            # one would compare against the wrong GT, so the answer is unknown.
            return LookupResult(Presence.UNKNOWN, folder=fold or ".",
                                detail="GT files could not be probed" + _why(source))
        if isinstance(found, dict):
            return LookupResult(Presence.PRESENT, folder=fold or ".", files=found)
    wanted = image_names(case) if case.modality == "image" else expected_outputs(case)
    # "none of" would be wrong when some are there: a case needs all of them, in one folder.
    return LookupResult(Presence.MISSING, detail=f"no folder holds all of {wanted}")


def video_relpath(source: GtSource, fold: str | None, case: Case) -> str | None:
    """Where the GT mp4 of ``case`` lies beside its key frames in ``fold``, if it is there.

    ``publish`` puts it there (listed in the manifest, not in ``case_map.json``), so
    whole-video compares work from a pinned ci-data commit, not only from a generate folder."""
    rel = posixpath.join(fold, video_name(case)) if fold else video_name(case)
    return rel if source.probe(rel) is Presence.PRESENT else None


def require_reachable(source: GtSource, unknown_details: list[str], total: int) -> None:
    """Raise :class:`NetworkError` when not one of ``total`` cases could even be probed.

    Then the source is down (an infrastructure fault, exit 2), not a verdict on any case;
    GT unknown for only some cases stays a per-case failure, never a pass."""
    if total and len(unknown_details) == total:
        raise NetworkError(f"GT source {source.description} unreachable at {source.commit}: "
                           f"{unknown_details[0]}; nothing compared or written, rerun later")
