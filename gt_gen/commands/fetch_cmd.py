"""``gt-gen fetch``: copy a group's GT from a pinned source into a local folder (verified).

Nothing partial: every file is read and verified first, then written into a staging folder
beside ``--out``, which is moved into place at the very end (an ``--out`` that is a file, or
a folder holding anything but an earlier fetch, is refused before any network). The folder
carries ``fetch.json`` with every file's sha256, and how its source verified it, so
``compare --gt FOLDER`` later refuses a file changed after the fetch. Each case's record also
says which implementation made its GT (``gt_implementation``, from the ci-data case_map:
:mod:`gt_gen.store.provenance`), with a note when it is not the one the registry runs for the
case; contradictory provenance is refused like tampering (exit 2, nothing written).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import posixpath
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from gt_gen.atomic import sweep_stale, write_bytes, write_json
from gt_gen.commands.common import add_selection, select
from gt_gen import jsonio
from gt_gen.errors import GtGenError, UsageError
from gt_gen.store.integrity import FETCH_RECORD, GtUnknownError, ManifestMissingError, Verifier
from gt_gen.store.lookup import locate, require_reachable, video_relpath
from gt_gen.store.provenance import note, of_found_gt
from gt_gen.store.source import Presence
from gt_gen.store.sources import KINDS, open_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch", help="fetch GT at a pinned ref into a folder")
    add_selection(p, group_required=True)
    p.add_argument("--source", required=True, help="git repo (path/URL), raw-HTTP base URL or dir")
    p.add_argument("--source-kind", choices=KINDS, default="auto",
                   help="how to read --source (default: guessed from it)")
    p.add_argument("--ref", default=None, help="commit (or, for git, a branch/tag to resolve)")
    p.add_argument("--platform", default=None,
                   help="prefer the GT in this platform's sub-folder (e.g. h100, b200), as sglang does")
    p.add_argument("--require-manifest", action=argparse.BooleanOptionalAction, default=None,
                   help="refuse GT folders without manifest.json (default: on when the source "
                        "looks published by gt-gen)")
    p.add_argument("--out", required=True,
                   help="folder for the fetched files and fetch.json (new, empty, or an earlier fetch)")
    p.set_defaults(func=run)


def _replaceable(out: Path) -> bool:
    """Whether ``out`` may be replaced: missing, an empty folder, or an earlier fetch holding
    only the files its ``fetch.json`` lists (nothing of the user's is ever deleted)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"--out {out} exists and is not a folder; nothing written")
    if not out.exists():
        return True
    entries = {p.name for p in out.iterdir()}
    if not entries:
        return True
    if FETCH_RECORD not in entries:
        return False
    try:
        rec = jsonio.load_file(out / FETCH_RECORD, what="earlier fetch record")
        listed = {n for e in rec["cases"].values() for n in (e.get("files") or {})}
    except (GtGenError, OSError, KeyError, TypeError, AttributeError):
        return False  # not a record we wrote: nothing there is ours to replace
    return entries <= listed | {FETCH_RECORD} and all((out / n).is_file() for n in entries)


def _anchor(out: Path) -> Path:
    """The nearest existing folder above ``out`` (where the staging folder goes)."""
    p = out.absolute().parent
    while not p.exists():
        p = p.parent
    if not p.is_dir():
        raise UsageError(f"--out {out}: {p} is not a folder; nothing written")
    return p


def _move_into_place(stage: Path, out: Path) -> None:
    """``stage`` becomes ``out``; an earlier fetch there is swapped out, then removed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    old: Path | None = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "was")
    try:
        os.replace(stage, out)
    except OSError:
        if old is not None:
            os.replace(old / "was", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _holds_files(out: Path) -> bool:
    """Whether ``out`` holds an earlier fetch's files (an existing, non-empty folder)."""
    return out.is_dir() and any(out.iterdir())


def run(args: argparse.Namespace) -> int:
    from gt_gen.commands.common import require_local

    from gt_gen.thresholds import canonical_platform

    _, cases = select(args)
    args.platform = canonical_platform(args.platform)  # sglang's aliases (sm120 -> 5090)
    require_local(args.source, "--source", "folder or git repository")
    out = Path(args.out)
    if not _replaceable(out):
        raise UsageError(f"--out {out} is a folder holding files `gt-gen fetch` did not write; "
                         "give a new or empty folder (nothing written)")
    anchor = _anchor(out)
    source = open_source(args.source_kind, args.source, args.ref)
    reader = Verifier(source, require_manifest=args.require_manifest, platform=args.platform)
    record: dict[str, Any] = {"source": source.description, "ref": args.ref, "commit": source.commit,
                              "platform": args.platform, "cases": {}}
    blobs: dict[str, bytes] = {}
    problems = []
    notes = []
    for case in cases:
        found = locate(source, case, args.platform)
        if found.status is not Presence.PRESENT:
            record["cases"][case.id] = {"status": found.status.value, "detail": found.detail}
            problems.append(f"{case.id}: {found.status.value}")
            continue
        rels = list((found.files or {}).values())
        try:
            video = video_relpath(source, found.folder, case) if case.modality == "video" else None
            rels += [video] if video else []  # the GT video too: whole-video compares
            got = {rel: reader.read(rel) for rel in rels}
        except GtUnknownError as exc:
            record["cases"][case.id] = {"status": "unknown", "detail": exc.one_line()}
            problems.append(f"{case.id}: unknown ({exc.one_line()})")
            continue
        except ManifestMissingError as exc:
            record["cases"][case.id] = {"status": "error", "detail": exc.one_line()}
            problems.append(f"{case.id}: error ({exc.one_line()})")
            continue
        files = {}
        for rel, data in got.items():
            blobs[posixpath.basename(rel)] = data
            files[posixpath.basename(rel)] = hashlib.sha256(data).hexdigest()
        impl = of_found_gt(reader, found.folder, case, rels)
        record["cases"][case.id] = {"status": "present", "folder": found.folder, "files": files,
                                    "gt_verification": reader.verification(rels),
                                    "gt_implementation": impl.as_json(case)}
        if note(case, impl):
            notes.append(f"{case.id}: {note(case, impl)}")
    require_reachable(source, [e["detail"] for e in record["cases"].values() if e["status"] == "unknown"],
                      len(cases))
    if problems and (len(problems) == len(cases) or _holds_files(out)):
        # Nothing is lost: a fetch that found no case writes nothing, and an incomplete one
        # does not replace a complete earlier fetch (a 503 for one case's files, or a wrong
        # base URL answering 404 everywhere, left --out holding less than before).
        kept = f"the earlier fetch in {out} is kept" if _holds_files(out) else f"{out} is not written"
        print(f"gt-gen: fetched {len(cases) - len(problems)} of {len(cases)} case(s) at "
              f"{source.commit or 'a plain directory'}; {kept}; not fetched: {'; '.join(problems)[:400]}",
              file=sys.stderr)
        return 1
    sweep_stale(anchor, f".{out.name}.fetch-")  # staging folders of killed fetches
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.fetch-", dir=anchor))
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(stage, 0o777 & ~mask)  # mkdtemp makes 0700; the finished folder gets normal modes
        for name, data in blobs.items():  # written only once everything verified
            write_bytes(stage / name, data)
        write_json(stage / FETCH_RECORD, record)
        _move_into_place(stage, out)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(stage)
    print(f"fetched {len(cases) - len(problems)}/{len(cases)} case(s) at "
          f"{source.commit or 'a plain directory'} into {out}")
    for n in notes:
        print(f"  note: {n}")
    for p in problems:
        print(f"  not fetched: {p}")
    return 1 if problems else 0
