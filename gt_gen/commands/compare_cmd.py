"""``gt-gen compare``: the consistency gate over a selection of cases.

Everything is computed first and written last, each file atomically: a bad input aborts
with exit 2 before any output exists, so no partial report is ever left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gt_gen.commands.common import add_selection, select
from gt_gen.metrics.clip import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_REVISION

if TYPE_CHECKING:  # the heavy modules (numpy, cv2, torch) are imported by run(), not by --help
    from concurrent.futures import Executor, Future

    from gt_gen.compare import CompareOptions
    from gt_gen.results import CaseResult
    from gt_gen.store.integrity import Verifier


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare candidate outputs with the GT")
    add_selection(p)
    p.add_argument("--gt", required=True,
                   help="GT: a directory, a git repository (path/URL) or a raw-HTTP base URL")
    p.add_argument("--gt-source", choices=("auto", "dir", "git", "http"), default="auto",
                   help="how to read --gt (default: guessed from it)")
    p.add_argument("--ref", default=None, help="git ref or commit of the GT (git/http sources)")
    p.add_argument("--candidate", required=True, help="candidate directory, or one file for one case")
    p.add_argument("--thresholds", default=None,
                   help="consistency_threshold.json, or sglang's consistency_thresholds/ folder")
    p.add_argument("--platform", default=None,
                   help="platform or alias (5090, sm120, RTX5090, b200, ...); its thresholds must exist")
    p.add_argument("--out", required=True, help="output directory for results and reports")
    p.add_argument("--metrics-backend", choices=("auto", "reference", "fast"), default="auto",
                   help="reference: scikit-image, as sglang; fast: the same numbers, faster "
                        "(default auto: fast)")
    p.add_argument("--device", default="cpu", help="device for the fast metrics and CLIP")
    p.add_argument("--frames", choices=("key", "all"), default="key",
                   help="'all' also computes every frame's curves (needs both mp4s)")
    p.add_argument("--gate-frames", choices=("key", "all"), default="key",
                   help="which frames the verdict uses (key frames by default, as sglang)")
    p.add_argument("--colour-matrix", choices=("auto", "bt601", "bt709"), default="auto",
                   help="YUV->RGB matrix of the whole-video decoder (both sides); 'auto' "
                        "follows each stream's tag, as OpenCV (sglang's key frames) does")
    p.add_argument("--clip-model", default=os.environ.get("GT_GEN_CLIP_MODEL", DEFAULT_CLIP_MODEL),
                   help="CLIP model id or local dir; 'none' disables the CLIP gate")
    p.add_argument("--clip-revision", default=DEFAULT_CLIP_REVISION,
                   help="hub revision of --clip-model (default: %(default)s)")
    p.add_argument("--require-manifest", action=argparse.BooleanOptionalAction, default=None,
                   help="refuse GT folders without manifest.json (default: on when the source "
                        "looks published by gt-gen, off otherwise; unverified GT is marked in "
                        "every report)")
    p.add_argument("--require-clip", action="store_true",
                   help="an unavailable CLIP model makes cases error instead of 'not evaluated'")
    p.add_argument("--history", default=None, help="record this run in a SQLite history DB")
    p.add_argument("--no-save-frames", dest="save_frames", action="store_false",
                   help="do not write frames/<case>.png (GT | candidate | diff) for the HTML report")
    p.add_argument("--engine-ref", default=os.environ.get("GITHUB_SHA", ""),
                   help="the engine commit under test, recorded in results.json (default: $GITHUB_SHA)")
    p.set_defaults(func=run)


def open_source(args: argparse.Namespace):
    """The GT source named by --gt/--gt-source/--ref."""
    from gt_gen.store import sources

    return sources.open_source(args.gt_source, args.gt, args.ref)


@dataclass
class Loaded:
    """One case's inputs, read before its metrics run, off the main thread: the GT part by the
    one thread that ever touches the GT source (in case order), the candidate part by a few
    threads at once (local files; OpenCV's key-frame seek is the slow step), while the metrics
    of earlier cases run on the main thread."""

    case: Any
    result: CaseResult | None = None  # no GT or no candidate: nothing to compute
    gt: dict[str, Any] = field(default_factory=dict)
    cand: dict[str, Any] = field(default_factory=dict)
    gt_folder: str | None = None
    gt_files: dict[str, str] = field(default_factory=dict)
    cand_path: Path | None = None
    verification: str = ""
    gt_implementation: Any = None  # gt_gen.store.provenance.GtImplementation of the GT read
    gt_video: tuple[str, bytes] | None = None  # (path in the source, bytes): --frames all
    gt_video_error: BaseException | None = None  # raised only if the video is used
    no_video: str = ""  # why there are no whole-video curves
    curves: Any = None  # gt_gen.compare.CurvesJob: both videos already decoding (--frames all)
    measured: Any = None  # gt_gen.compare.Measured, when the key frames waited for the whole decode
    measure_error: BaseException | None = None  # raised where the whole-video curves are made
    key_frames_from: str = ""  # where the candidate's key frames came from, and why


def load_gt_part(case, reader: Verifier, platform: str | None, whole: bool) -> Loaded:
    """The GT key frames of ``case`` (and, for ``--frames all``, its GT mp4's bytes)."""
    from gt_gen.compare import load_gt_frames
    from gt_gen.naming import video_name
    from gt_gen.store.lookup import video_relpath

    missing, gt, gt_folder, gt_files = load_gt_frames(reader, case, platform)
    if missing is not None:
        return Loaded(case, result=missing)
    got = Loaded(case, gt=gt, gt_folder=gt_folder, gt_files=gt_files)
    if whole and case.modality == "video":
        rel = video_relpath(reader.source, gt_folder, case)
        if rel is None:
            got.no_video = f"no {video_name(case)} beside the GT key frames"
        else:
            try:  # a bad GT video matters only if the candidate is an mp4: decided later
                got.gt_video = (rel, reader.read(rel))
            except Exception as exc:  # noqa: BLE001  (re-raised where the video is used)
                got.gt_video_error = exc
    got.verification = reader.verification(list(gt_files.values()))
    from gt_gen.store.provenance import of_found_gt

    got.gt_implementation = of_found_gt(reader, gt_folder, case, list(gt_files.values()))
    return got


def load_candidate_part(case, candidate: Path, single: bool, defer: bool = False
                        ) -> tuple[Path | None, dict[str, Any]]:
    """The candidate output of ``case`` and its key frames (path ``None``: no output found).

    ``defer`` (``--frames all``): of an mp4 only OpenCV's frame 0 is read
    (:class:`gt_gen.compare.FirstFrameOnly`): the whole decode may provide the key frames
    (:func:`gt_gen.compare.candidate_key_frames`), and OpenCV's seek through the video would
    be most of a second decode."""
    from gt_gen.compare import find_candidate, load_candidate_frames, read_first_frame

    cand_path = find_candidate(candidate, case, single=single)
    if cand_path is None:
        return None, {}
    if defer and case.modality == "video" and cand_path.is_file() and cand_path.suffix == ".mp4":
        return cand_path, read_first_frame(cand_path)
    return cand_path, load_candidate_frames(cand_path, case)


def join_parts(got: Loaded, cand: Future[tuple[Path | None, dict[str, Any]]], candidate: Path
               ) -> Loaded:
    """The case's GT part completed with its candidate part (whose errors, like a sequential
    read's, count only for a case that has GT)."""
    from gt_gen.results import CaseResult

    if got.result is not None:
        return got
    cand_path, frames = cand.result()
    case = got.case
    if cand_path is None:
        got.result = CaseResult(case.id, case.modality, "missing_candidate",
                                f"no output for {case.id} under {candidate}")
        return got
    got.cand_path = cand_path
    if cand_path.suffix != ".mp4":  # no curves whatever the GT holds; its video stays unread
        got.gt_video, got.gt_video_error, got.no_video = None, None, "the candidate is not an mp4"
    from gt_gen.compare import FirstFrameOnly, load_candidate_frames

    if isinstance(frames, FirstFrameOnly) and (got.gt_video is None or got.gt_video_error is not None):
        # No whole decode to take them from (or its GT is bad: the candidate's error first).
        frames = load_candidate_frames(cand_path, case)
    got.cand = frames  # FirstFrameOnly: the rest from the whole decode, see measure_first
    if got.gt_video_error is not None:
        raise got.gt_video_error
    return got


def read_ahead() -> int:
    """Cases read ahead of the one being measured: one on a small machine, up to four where
    there are cores to spare (each is a few frames in memory, never a decoded video)."""
    return max(1, min(4, (os.cpu_count() or 2) // 4))


def ahead_of_time(items: list[Any], fn: Callable[[Any], Any], pool: Executor,
                  ahead: int) -> Iterator[Future[Any]]:
    """``fn(item)`` submitted to ``pool`` for each item, at most ``ahead`` beyond the one the
    caller holds; the futures come back in item order (errors stay in them until asked)."""
    window: deque[Future[Any]] = deque(pool.submit(fn, x) for x in items[:ahead])
    rest = iter(items[ahead:])
    while window:
        cur = window.popleft()
        nxt = next(rest, _END)
        if nxt is not _END:
            window.append(pool.submit(fn, nxt))
        yield cur


_END = object()


def prefetched(items: list[Any], load: Callable[[Any], Any], ahead: int = 1) -> Iterator[Any]:
    """``load(item)`` for each item in order, read by one background thread at most ``ahead``
    items beyond the caller's; an error of a load is raised when its item comes up, as if read
    in line."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gt-gen-read")
    try:
        for fut in ahead_of_time(items, load, pool, ahead):
            yield fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def started_ahead(parts: Iterator[tuple[Future[Loaded], Future[Any]]], candidate: Path,
                  opts: CompareOptions, submit: Callable[..., Any]) -> Generator[Loaded, None, None]:
    """Each case's parts joined (:func:`join_parts`) in order, and with ``--frames all`` the
    next case's two videos already decoding on ``submit`` while this one is measured. An
    error of case i+1 is raised only when its turn comes, after case i's result, as if read
    in line; decoders nobody will read are stopped when this generator is closed."""
    from gt_gen.compare import pipelined, start_curves

    pipe = opts.frames == "all" and pipelined()
    pending: deque[Loaded | BaseException] = deque()
    more, cur = True, None

    def pull() -> bool:
        nxt = next(parts, None)
        if nxt is None:
            return False
        try:
            got = join_parts(nxt[0].result(), nxt[1], candidate)
        except Exception as exc:  # noqa: BLE001  (raised at its case's turn)
            pending.append(exc)
            return False
        if pipe and got.result is None and got.gt_video is not None and got.case.modality == "video":
            assert got.cand_path is not None
            got.curves = start_curves(got.gt_video[1], got.cand_path, opts, gt_where=got.gt_video[0],
                                      cand_keys=got.cand, submit=submit)
        pending.append(got)
        return True

    try:
        while True:
            while more and len(pending) <= (1 if pipe else 0):
                more = pull()
            if not pending:
                return
            cur = pending.popleft()
            if isinstance(cur, BaseException):
                raise cur
            yield cur
            if cur.curves is not None:  # measured (or skipped): its decoders are done with
                cur.curves.close()
    finally:
        for item in (cur, *pending):
            if isinstance(item, Loaded) and item.curves is not None:
                item.curves.close()


def measure_first(got: Loaded, thresholds, opts: CompareOptions) -> None:
    """Decode and measure both videos before the key-frame verdict, then take the candidate's
    key frames from that decode where provably OpenCV's (else OpenCV seeks, as sglang).

    Errors come in the order a key-frames-first compare gives them: if the decode fails, the
    candidate's key frames are read by OpenCV (whose error, if any, is raised now), the
    key-frame verdict is made, and the decode's error is raised by :func:`whole_video`."""
    from gt_gen.compare import FirstFrameOnly, candidate_key_frames, load_candidate_frames, measure_curves

    case = got.case
    assert got.gt_video is not None and got.cand_path is not None
    first = got.cand if isinstance(got.cand, FirstFrameOnly) else None
    rel, data = got.gt_video
    try:
        got.measured = measure_curves(
            data, got.cand_path, opts, gt_where=rel, job=got.curves,
            gates={m: g.value for m, g in thresholds.gates(case.id, case.modality).items()})
    except Exception as exc:  # noqa: BLE001  (raised in whole_video, after the key frames)
        got.cand = load_candidate_frames(got.cand_path, case)
        got.measure_error = exc
        return
    got.cand, got.key_frames_from = candidate_key_frames(got.measured, got.cand_path, case, first)


def whole_video(res: CaseResult, got: Loaded, thresholds, opts: CompareOptions) -> None:
    """Every frame's curves (``--frames all``), the GT mp4 read through the source.

    Without both mp4s there are no curves: a note when only key frames gate, but an error
    when ``--gate-frames all`` was asked for, since a key-frame verdict would then pass a
    case the user asked to hold to every frame."""
    from gt_gen.compare import all_frame_curves, finish_curves, gate_all_frames

    case = got.case
    if got.gt_video is None:
        why = got.no_video
        if opts.gate_frames == "all":
            res.status = "error"
            res.message = f"--gate-frames all needs both videos: {why}" + ("; " + res.message if res.message else "")
        else:
            res.message = (res.message + "; " if res.message else "") + f"whole-video curves skipped: {why}"
        return
    rel, data = got.gt_video
    assert got.cand_path is not None
    if got.measure_error is not None:
        raise got.measure_error
    if got.measured is not None:
        finish_curves(res, got.measured, data, got.cand_path, opts, gt_where=rel, gt_keys=got.gt,
                      cand_keys=got.cand)
        res.whole_video["candidate"]["key_frames_from"] = got.key_frames_from
    else:
        # Decoded from memory: errors name the GT file in the source, never a temporary copy.
        all_frame_curves(res, data, got.cand_path, opts, gt_where=rel, gt_keys=got.gt,
                         cand_keys=got.cand, job=got.curves,
                         gates={m: g.value for m, g in thresholds.gates(case.id, case.modality).items()})
    if opts.gate_frames == "all":
        gate_all_frames(res, thresholds, case)


def one_thread_opencv() -> None:
    """OpenCV's own thread pool off for a compare: its work here is small (key-frame colour
    conversions, the report's heatmaps and previews) while its idle workers spin on the cores
    FFmpeg decodes on. Measured on 2 cores, 30 cases of 25x768x512: CPU per run 11.50 -> 10.94 s
    (whole video) and 5.46 -> 4.98 s (key frames), wall 6% less. Pixels do not depend on it, and
    OpenCV's video decoding keeps FFmpeg's threads (they are not this pool)."""
    import cv2

    cv2.setNumThreads(1)


def run(args: argparse.Namespace) -> int:
    import datetime as dt
    import platform as pyplatform
    import sys

    from gt_gen import __version__
    from gt_gen.atomic import write_bytes, write_text
    from concurrent.futures import Future, ThreadPoolExecutor

    from gt_gen.compare import CompareOptions, FirstFrameOnly, evaluate_case
    from gt_gen.metrics.clip import ClipScorer
    from gt_gen.metrics.fast import engine_name
    from gt_gen.redact import redact
    from gt_gen.reports import annotations as gh_annotations
    from gt_gen.reports import junit, markdown, sidebyside
    from gt_gen.results import CaseResult, Results, write_results
    from gt_gen.store.integrity import Verifier
    from gt_gen.store.lookup import require_reachable
    from gt_gen.thresholds import load_thresholds
    from gt_gen.video_decode import describe

    from gt_gen.devices import check_device
    from gt_gen.heap import keep_freed_memory
    from gt_gen.writable import check_out_dir

    from gt_gen.commands.common import require_local

    check_device(args.device)
    if args.frames == "all":
        from gt_gen.video_decode import pair_decode_threads

        pair_decode_threads()  # a bad GT_GEN_DECODE_THREADS fails here, before any work
    one_thread_opencv()
    keep_freed_memory()  # decoded frames: freed and allocated again each frame (gt_gen.heap)
    _, cases = select(args)
    require_local(args.gt, "--gt", "GT folder or git repository")
    # Every output path checked before any work: a bad --out leaves nothing behind.
    check_out_dir(args.out, ["results.json", "junit.xml", "summary.md"]
                  + [f"{c.id}_diff.png" for c in cases]
                  + ([f"frames/{c.id}.png" for c in cases] if args.save_frames else []))
    if args.history:
        from gt_gen.history import check_db

        check_db(args.history)
    thresholds = load_thresholds(args.thresholds, args.platform)
    platform = thresholds.platform  # alias resolved as sglang does; its overlay exists
    source = open_source(args)
    reader = Verifier(source, require_manifest=args.require_manifest, platform=platform)
    opts = CompareOptions(platform=platform, metrics_backend=args.metrics_backend,
                          device=args.device, frames=args.frames, gate_frames=args.gate_frames,
                          require_clip=args.require_clip, colour_matrix=args.colour_matrix)
    candidate = Path(args.candidate)
    if not candidate.exists():
        from gt_gen.errors import MissingFileError

        raise MissingFileError("candidate path not found", path=candidate)
    clip = ClipScorer(args.clip_model, args.clip_revision, device=args.device)
    if not clip.status.available and not clip.status.disabled:
        print(f"gt-gen: {clip.status.summary}", file=sys.stderr)  # once, not per case
    results: list[CaseResult] = []
    images: dict[str, Future[bytes]] = {}
    # Report images are encoded in the background (OpenCV releases the GIL), while the next
    # case is read in another thread and this one is measured here.
    painter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gt-gen-png")
    ahead = read_ahead()
    gt_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gt-gen-gt")  # the source: one thread
    cand_reader = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="gt-gen-cand")
    # --frames all: a case's GT and candidate videos decode at once, the next case's as soon
    # as this one's are done (compare.CurvesJob), while the metrics run here.
    decoders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gt-gen-decode")
    loaded: Generator[Loaded, None, None] | None = None
    try:
        gt_parts = ahead_of_time(cases, lambda c: load_gt_part(c, reader, platform, opts.frames == "all"),
                                 gt_reader, ahead)
        cand_parts = ahead_of_time(cases, lambda c: load_candidate_part(c, candidate, len(cases) == 1,
                                                                        defer=opts.frames == "all"),
                                   cand_reader, ahead)
        loaded = started_ahead(zip(gt_parts, cand_parts), candidate, opts, decoders.submit)
        for got in loaded:
            case = got.case
            if got.result is not None:
                results.append(got.result)
                continue
            if isinstance(got.cand, FirstFrameOnly):  # the key frames wait for the whole decode
                measure_first(got, thresholds, opts)
            res = evaluate_case(case, got.gt, got.cand, thresholds, opts, clip, measured=got.measured)
            res.gt_folder, res.gt_files, res.candidate = got.gt_folder, got.gt_files, str(got.cand_path)
            res.gt_verification = got.verification
            if got.gt_implementation is not None:  # which implementation made the GT: told, never a verdict
                from gt_gen.store.provenance import note

                res.gt_implementation = got.gt_implementation.as_json(case)
                if note(case, got.gt_implementation):
                    res.message = (res.message + "; " if res.message else "") + note(case, got.gt_implementation)
            if res.gt_verification == "unverified":
                res.message = (res.message + "; " if res.message else "") + (
                    f"GT unverified: no manifest covers folder {got.gt_folder} (compared as found)")
            if opts.frames == "all" and case.modality == "video":
                whole_video(res, got, thresholds, opts)
            failed = res.status != "passed"
            if res.frames and (failed or args.save_frames):
                # Every pixel for a failing case (what a reviewer inspects), a preview otherwise.
                rows = [(got.gt[f.frame], got.cand[f.frame]) for f in res.frames]
                png = painter.submit(sidebyside.case_png, rows, full=failed)
                if failed:
                    images[f"{case.id}_diff.png"] = png
                    res.diff_image = f"{case.id}_diff.png"
                if args.save_frames:
                    images[f"frames/{case.id}.png"] = png
            results.append(res)
        encoded = {name: fut.result() for name, fut in images.items()}
    finally:
        if loaded is not None:
            loaded.close()  # stops the decoders of cases never measured
        for pool in (gt_reader, cand_reader, painter, decoders):
            pool.shutdown(wait=True, cancel_futures=True)

    require_reachable(source, [r.message for r in results if r.status == "unknown_gt"], len(cases))
    meta = {"tool": "gt-gen", "version": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "gt_source": redact(source.description), "gt_commit": source.commit,
            "thresholds": thresholds.describe(),
            "platform": platform, "metrics_backend": args.metrics_backend,
            "require_manifest": args.require_manifest,
            "metrics_engine": "scikit-image" if args.metrics_backend == "reference" else engine_name(args.device),
            "frames": args.frames, "gate_frames": args.gate_frames,
            "decoder": {"key_frames": {"name": "opencv", "version": _cv_version(),
                                       "colour_matrix": "decoder default (as sglang reads key frames)",
                                       **({"reuse": "a candidate mp4's key frames come from the whole "
                                                    "decode where provably OpenCV's seek frames; per case: "
                                                    "whole_video.candidate.key_frames_from"}
                                          if args.frames == "all" else {})},
                        **({"all_frames": describe(args.colour_matrix)} if args.frames == "all" else {})},
            "engine_ref": args.engine_ref, "python": pyplatform.python_version(),
            "command": redact(" ".join(sys.argv))}
    res_all = Results(cases=results, meta=meta)
    if args.history:  # before any output: a DB that refuses the run leaves --out as it was
        from gt_gen.history import record_results

        record_results(args.history, res_all)
    out = Path(args.out)
    # results.json goes last, and an earlier run's goes first: a run killed midway leaves no
    # results.json beside files of another run (each file is written atomically, the set is not).
    with contextlib.suppress(FileNotFoundError):
        (out / "results.json").unlink()
    for name, data in encoded.items():
        write_bytes(out / name, data)
    write_text(out / "junit.xml", junit.render(res_all))
    md = markdown.render(res_all)
    write_text(out / "summary.md", md)
    write_results(res_all, out / "results.json")
    print(md)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(md)
    if gh_annotations.on_actions():
        for line in gh_annotations.lines(res_all):
            print(line)
    return 0 if res_all.all_passed else 1


def _cv_version() -> str:
    import cv2

    return cv2.__version__
