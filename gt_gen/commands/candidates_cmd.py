"""``gt-gen candidates``: ask a running sglang server for each case's output, named for compare."""

from __future__ import annotations

import argparse
from pathlib import Path

from gt_gen.atomic import write_bytes, write_json
from gt_gen.commands.common import add_selection, select
from gt_gen.engine.sglang_client import ClientOptions, JobError, SglangClient
from gt_gen.errors import GtGenError, InputFileError, NetworkError
from gt_gen.naming import image_names, video_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("candidates", help="fetch candidate outputs from an sglang server")
    add_selection(p, group_required=True)
    p.add_argument("--server", required=True, help="base URL, e.g. http://127.0.0.1:30000")
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=30.0, help="per HTTP request, seconds")
    p.add_argument("--job-deadline", type=float, default=1800.0, help="per video job, seconds")
    p.add_argument("--poll-interval", type=float, default=2.0)
    p.set_defaults(func=run)


def _check_media(data: bytes, case, path: Path) -> None:
    """Decode what the server sent before it is kept: a broken file is that case's error."""
    import tempfile

    from gt_gen import frames as fr

    with tempfile.NamedTemporaryFile(suffix=path.suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        if case.modality == "video":
            fr.read_key_frames(tmp.name, case.key_frames)
        else:
            fr.read_image(tmp.name)


def run(args: argparse.Namespace) -> int:
    _, cases = select(args)
    client = SglangClient(args.server, ClientOptions(timeout=args.timeout, job_deadline=args.job_deadline,
                                                     poll_interval=args.poll_interval))
    out = Path(args.out)
    record: dict = {"server": client.server, "cases": {}}
    failed = 0
    for case in cases:
        try:
            if case.modality == "video":
                data, path = client.video(case), out / video_name(case)
            else:
                data, path = client.image(case), out / image_names(case)[0]
            try:
                _check_media(data, case, path)
            except InputFileError as exc:
                raise JobError(f"server output is not a valid {case.modality}: {exc}") from None
            write_bytes(path, data)
            record["cases"][case.id] = {"status": "ok", "file": path.name}
            print(f"{case.id}: ok -> {path}")
        except (JobError, GtGenError) as exc:
            if isinstance(exc, NetworkError) and not record["cases"]:
                # The first request already found no server: nothing to record per case.
                raise NetworkError(f"{exc.one_line()}; no case was asked, nothing written "
                                   "(is the server up?)") from None
            failed += 1
            msg = exc.one_line() if isinstance(exc, GtGenError) else str(exc)
            record["cases"][case.id] = {"status": "failed", "error": msg}
            print(f"{case.id}: failed: {msg}")
    write_json(out / "candidates.json", record)
    return 1 if failed else 0
