"""``gt-gen candidates``: ask a running sglang server for each case's output, named for compare.

Each case is asked for exactly the request its GT was made from (see
:mod:`gt_gen.engine.sglang_request`); a case the server cannot honour, or a server launched
otherwise than the case's ``[case.sglang.server_args]``, fails that case with the reason and
the ``sglang serve`` command it needs. ``--print-serve-command`` prints those commands and asks
nothing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gt_gen.atomic import write_bytes, write_json
from gt_gen.cases import Case
from gt_gen.commands.common import add_selection, select
if TYPE_CHECKING:  # sglang_client imports requests: loaded by run(), not by `gt-gen --help`
    from gt_gen.engine.sglang_client import SglangClient
from gt_gen.engine.sglang_request import CannotHonour, ServerInfo, check_server
from gt_gen.errors import GtGenError, InputFileError, NetworkError, UsageError
from gt_gen.naming import IMAGE_EXTS, candidate_file_names, stem, video_name
from gt_gen.redact import redact


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("candidates", help="fetch candidate outputs from an sglang server")
    add_selection(p, group_required=True)
    p.add_argument("--server", help="base URL, e.g. http://127.0.0.1:30000")
    p.add_argument("--out", help="output folder: one file per case, named for `gt-gen compare`")
    p.add_argument("--timeout", type=float, default=30.0, help="per HTTP request, seconds")
    p.add_argument("--job-deadline", type=float, default=1800.0, help="per video job, seconds")
    p.add_argument("--poll-interval", type=float, default=2.0,
                   help="seconds between polls of a video job (default: 2)")
    p.add_argument("--server-fields", default="",
                   help="comma-separated request fields the server's model declares beyond sglang "
                        "0.5.23's (e.g. video_stg_blocks); a case needing an undeclared one fails")
    p.add_argument("--print-serve-command", action="store_true",
                   help="print the `sglang serve` command each case needs, ask nothing")
    p.add_argument("--engine", choices=("sglang", "diffusers"), default="sglang",
                   help="sglang: ask --server; diffusers: run diffusers' LTX-2 pipelines here on "
                        "the GT's own (converted) weights")
    p.add_argument("--inject-noise", metavar="GT_DIR", default=None,
                   help="diffusers: replay the initial noise and sigmas recorded in GT_DIR's manifest")
    p.add_argument("--precision", choices=("bf16", "fp32"), default="fp32",
                   help="diffusers: the candidate's precision (default fp32)")
    p.add_argument("--device", default="cpu", help="diffusers: cpu or cuda[:N]")
    p.set_defaults(func=run)


def serve_command(case: Case) -> str | None:
    spec = case.sglang
    return spec.server_args.serve_command() if spec and spec.server_args else None


def _check_media(data: bytes, case: Case, suffix: str) -> None:
    """Decode what the server sent before it is kept: a broken file is that case's error."""
    from gt_gen import frames as fr

    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        where = f"the server's {case.modality} for case {case.id}"  # never the temp file's name
        if case.modality == "video":
            fr.read_key_frames(tmp.name, case.key_frames, where=where)
        else:
            fr.decode_image(data, where)


def _image_path(out: Path, case: Case, data: bytes) -> Path:
    """Name the image by what the server actually returned (magic bytes), not what was asked."""
    from gt_gen.engine.sglang_client import JobError, image_kind

    kind = image_kind(data)
    if kind is None:
        raise JobError(f"server output is not a PNG, JPEG or WebP image (starts {data[:8]!r})")
    return out / f"{stem(case)}.{kind}"


def _one(client: SglangClient, case: Case, out: Path, info: ServerInfo | None) -> dict[str, Any]:
    from gt_gen.engine.sglang_client import JobError

    entry: dict[str, Any] = {}
    command = serve_command(case)
    if command:
        entry["serve_command"] = command
    mismatch = check_server(case, info)
    if mismatch:
        raise JobError(f"the running server is not launched as the case needs ({'; '.join(mismatch)}); "
                       f"launch: {command}")
    req = client.prepare(case)
    entry["request"] = req.summary()
    if case.modality == "video":
        data, path = client.video(case, req), out / video_name(case)
    else:
        data = client.image(case, req)
        path = _image_path(out, case, data)
        asked = dict(req.form or []).get("output_format") or req.body.get("output_format")
        if asked and {"jpeg": "jpg"}.get(asked, asked) != path.suffix[1:]:
            entry["note"] = f"asked for {asked}, the server returned {path.suffix[1:]}"
    try:
        _check_media(data, case, path.suffix)
    except InputFileError as exc:
        raise JobError(f"server output is not a valid {case.modality}: {exc}") from None
    if case.modality == "image":
        for ext in IMAGE_EXTS:  # one image per case: drop an older one of another format
            other = out / f"{stem(case)}{ext}"
            if other != path and other.is_file():
                other.unlink()
    write_bytes(path, data)
    return entry | {"status": "ok", "file": path.name}


def _check_options(args: argparse.Namespace, cases: list[Case]) -> None:
    """Bad options and an unwritable --out are exit 2 before any request is sent."""
    import math

    from gt_gen.writable import check_out_dir

    if not args.server.startswith(("http://", "https://")):
        raise UsageError(f"--server {args.server!r} is not an http(s) URL "
                         "(e.g. http://127.0.0.1:30000)")
    for opt in ("timeout", "job_deadline", "poll_interval"):
        v = getattr(args, opt)
        if not (math.isfinite(v) and v > 0):
            raise UsageError(f"--{opt.replace('_', '-')} must be a positive number of seconds, got {v}")
    check_out_dir(args.out, ["candidates.json"] + [
        video_name(c) if c.modality == "video" else f"{stem(c)}.png" for c in cases])


def _forget(out: Path, case: Case) -> None:
    """Remove what an earlier run left in ``out`` under the names ``compare`` reads for
    ``case``: a case that failed now must not be compared on its previous output."""
    for name in candidate_file_names(case):
        p = out / name
        if p.is_file() or p.is_symlink():
            p.unlink()


def run(args: argparse.Namespace) -> int:
    from gt_gen.engine.sglang_client import ClientOptions, JobError, SglangClient

    _, cases = select(args)
    if args.engine == "diffusers":
        from gt_gen.engine.diffusers_ltx import run_diffusers

        return run_diffusers(args, cases)
    if args.print_serve_command:
        for case in cases:
            print(f"{case.id}: {serve_command(case) or 'no sglang server facts ([case.sglang.server_args])'}")
        return 0
    if not args.server or not args.out:
        raise UsageError("candidates needs --server URL and --out DIR (or --print-serve-command)")
    _check_options(args, cases)
    fields = frozenset(f.strip() for f in args.server_fields.split(",") if f.strip())
    client = SglangClient(args.server, ClientOptions(timeout=args.timeout, job_deadline=args.job_deadline,
                                                     poll_interval=args.poll_interval),
                          server_fields=fields)
    try:
        info = client.server_info()
    except NetworkError as exc:
        # No server at all: one line, nothing written.
        raise NetworkError(f"{exc.one_line()}; no case was asked, nothing written "
                           "(is the server up?)") from None
    if info is None:
        print("note: the server does not report its model (GET /v1/models); launch not checked")
    out = Path(args.out)
    record: dict[str, Any] = {"server": redact(client.server), "cases": {}}
    if info is not None:
        record["server_info"] = {k: v for k, v in vars(info).items() if v is not None}
    failed = 0
    for case in cases:
        try:
            entry = _one(client, case, out, info)
            record["cases"][case.id] = entry
            print(f"{case.id}: ok -> {out / entry['file']}")
        except (JobError, CannotHonour, GtGenError) as exc:
            failed += 1
            # A server's answer may echo what it was sent (the API key among it): redacted.
            msg = redact(exc.one_line() if isinstance(exc, GtGenError) else str(exc))
            _forget(out, case)
            record["cases"][case.id] = {"status": "failed", "error": msg,
                                        **({"serve_command": c} if (c := serve_command(case)) else {})}
            print(f"{case.id}: failed: {msg}")
    write_json(out / "candidates.json", record)
    return 1 if failed else 0
