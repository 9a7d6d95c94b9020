"""``gt-gen fetch``: copy a group's GT from a pinned source into a local folder (verified)."""

from __future__ import annotations

import argparse
import hashlib
import posixpath
from pathlib import Path

from gt_gen.atomic import write_bytes, write_json
from gt_gen.commands.common import add_selection, select
from gt_gen.store.integrity import Verifier
from gt_gen.store.lookup import locate, require_reachable, video_relpath
from gt_gen.store.source import Presence
from gt_gen.store.sources import KINDS, open_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch", help="fetch GT at a pinned ref into a folder")
    add_selection(p, group_required=True)
    p.add_argument("--source", required=True, help="git repo (path/URL), raw-HTTP base URL or dir")
    p.add_argument("--source-kind", choices=KINDS, default="auto")
    p.add_argument("--ref", default=None, help="commit (or, for git, a branch/tag to resolve)")
    p.add_argument("--platform", default=None)
    p.add_argument("--out", required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _, cases = select(args)
    source = open_source(args.source_kind, args.source, args.ref)
    reader = Verifier(source)
    out = Path(args.out)
    record: dict = {"source": source.description, "ref": args.ref, "commit": source.commit,
                    "platform": args.platform, "cases": {}}
    blobs: dict[str, bytes] = {}
    problems = []
    for case in cases:
        found = locate(source, case, args.platform)
        if found.status is not Presence.PRESENT:
            record["cases"][case.id] = {"status": found.status.value, "detail": found.detail}
            problems.append(f"{case.id}: {found.status.value}")
            continue
        rels = list((found.files or {}).values())
        video = video_relpath(source, found.folder, case) if case.modality == "video" else None
        files = {}
        for rel in [*rels, *([video] if video else [])]:  # the GT video too: whole-video compares
            data = reader.read(rel)
            blobs[posixpath.basename(rel)] = data
            files[posixpath.basename(rel)] = hashlib.sha256(data).hexdigest()
        record["cases"][case.id] = {"status": "present", "folder": found.folder, "files": files}
    require_reachable(source, [e["detail"] for e in record["cases"].values() if e["status"] == "unknown"],
                      len(cases))
    for name, data in blobs.items():  # written only once everything verified
        write_bytes(out / name, data)
    write_json(out / "fetch.json", record)
    print(f"fetched {len(cases) - len(problems)}/{len(cases)} case(s) at "
          f"{source.commit or 'a plain directory'} into {out}")
    for p in problems:
        print(f"  not fetched: {p}")
    return 1 if problems else 0
