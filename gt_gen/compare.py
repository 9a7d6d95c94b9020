"""The consistency gate: GT vs candidate, per case and frame, against the thresholds.

A case passes only if every key frame passes every evaluated gate (clip >=, ssim >=,
psnr >=, mean_abs_diff <=), as sglang does. Missing GT is a failure (``missing_gt``), GT
that could not be probed is ``unknown_gt`` (also a failure, never a pass), and an
unavailable CLIP model leaves the CLIP gate *not evaluated* (``None``), never passed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gt_gen import frames as fr
from gt_gen.cases import Case
from gt_gen.errors import InputFileError, MissingFileError, UsageError
from gt_gen.metric_pool import OrderedPool, metric_workers
from gt_gen.metrics import MIN_SIDE, check_pair, compute_pair_metrics
from gt_gen.metrics.clip import ClipScorer
from gt_gen.naming import candidate_single_image_names, candidate_video_names, key_frame_names
from gt_gen.results import CaseResult, FrameResult
from gt_gen.store.integrity import GtUnknownError, ManifestMissingError, Verifier
from gt_gen.store.lookup import locate
from gt_gen.store.source import Presence, regular_file
from gt_gen.thresholds import HIGHER_IS_BETTER, METRICS, Thresholds, worst


@dataclass
class CompareOptions:
    """Knobs of a comparison run."""

    platform: str | None = None
    metrics_backend: str = "auto"
    device: str = "cpu"
    frames: str = "key"  # "key": key frames; "all": also every frame's curves
    gate_frames: str = "key"  # which frames the verdict uses
    require_clip: bool = False
    colour_matrix: str = "auto"  # the whole-video decoder follows each stream's tag, as OpenCV
    integrity: dict[str, str] = field(default_factory=dict)


def load_gt_frames(reader: Verifier, case: Case, platform: str | None
                   ) -> tuple[CaseResult | None, dict[str, np.ndarray], str | None, dict[str, str]]:
    """GT key frames of ``case``, read through ``reader`` (so checked against the manifest),
    or a CaseResult explaining why there are none."""
    source = reader.source
    found = locate(source, case, platform)
    if found.status is Presence.MISSING:
        return CaseResult(case.id, case.modality, "missing_gt",
                          f"no GT in {source.description}: {found.detail}"), {}, None, {}
    if found.status is Presence.UNKNOWN:
        return CaseResult(case.id, case.modality, "unknown_gt",
                          f"GT presence unknown in {source.description} ({found.detail}); "
                          "not treated as missing, not passed"), {}, None, {}
    assert found.files is not None
    try:  # every file verified before any is decoded: tampering is never a decode failure
        blobs = {key: reader.read(rel) for key, rel in found.files.items()}
    except GtUnknownError as exc:
        return CaseResult(case.id, case.modality, "unknown_gt",
                          f"GT in {source.description} cannot be verified: {exc.one_line()}; "
                          "not treated as missing, not passed"), {}, None, {}
    except ManifestMissingError as exc:
        return CaseResult(case.id, case.modality, "error", exc.one_line()), {}, None, {}
    out = fr.FrameSet(sources=dict(found.files))
    for key, data in blobs.items():  # PIL + convert("RGB"), as sglang reads GT images
        out[key], out.modes[key] = fr.decode_image_with_mode(data, found.files[key])
    return None, out, found.folder, dict(found.files)


def find_candidate(candidate: Path, case: Case, single: bool) -> Path | None:
    """The candidate output of ``case`` under ``candidate`` (a dir or, for one case, a file)."""
    if candidate.is_file():
        if not single:
            raise UsageError("--candidate is a single file; select exactly one case with --case")
        return candidate
    if not candidate.is_dir():
        raise MissingFileError("candidate path not found", path=candidate)
    what = f"the candidate output of {case.id}"
    if case.modality == "video":
        for name in candidate_video_names(case):
            if regular_file(candidate / name, what):
                return candidate / name
        names = key_frame_names(case)
        if all([regular_file(candidate / n, what) for n in names.values()]):
            return candidate
        return None
    for name in candidate_single_image_names(case):
        if regular_file(candidate / name, what):
            return candidate / name
    return None


def load_candidate_frames(path: Path, case: Case) -> fr.FrameSet:
    """The candidate's key frames: from an mp4 as sglang reads them (OpenCV seek), from a
    folder of key-frame PNGs or from one image (PIL, ``.convert("RGB")``)."""
    if path.is_dir():
        got = fr.read_key_frame_dir(path, key_frame_names(case))
        assert got is not None
        return got
    if case.modality == "video":
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
            raise UsageError(f"case {case.id} is a video: give an mp4 or a folder of key-frame "
                             "PNGs, not a single image")
        return fr.read_key_frames(path, case.key_frames)
    img, mode = fr.read_image_with_mode(path)
    return fr.FrameSet({"first": img}, sources={"first": str(path)}, modes={"first": mode})


def _where(frames: dict[str, np.ndarray], key: str) -> str:
    return getattr(frames, "sources", {}).get(key, "?")


def _pair_metrics(case: Case, keys: list[str], gt: dict[str, np.ndarray],
                  cand: dict[str, np.ndarray], opts: CompareOptions,
                  gates: dict[str, float | None], measured: Measured | None = None
                  ) -> list[dict[str, float]]:
    """The metrics of each key frame pair; a pair that cannot be compared (sizes differ,
    smaller than SSIM's window) is one line naming the case, the frame and both files.

    ``measured``: the case's whole-video decode, already measured frame by frame with these
    gates: a key frame pair that *is* a measured pair, pixel for pixel, takes that value (the
    same deterministic computation on the same pixels; see :func:`_measured_values`)."""
    for k in keys:
        try:
            check_pair(gt[k], cand[k])
        except InputFileError as exc:
            raise type(exc)(f"case {case.id}, key frame {k} (GT {_where(gt, k)}, candidate "
                            f"{_where(cand, k)}): {exc}", case_id=case.id) from exc
    known = _measured_values(measured, keys, gt, cand)
    todo = [k for k in keys if k not in known]
    fresh = dict(zip(todo, compute_pair_metrics([gt[k] for k in todo], [cand[k] for k in todo],
                                                backend=opts.metrics_backend, device=opts.device,
                                                gates=gates))) if todo else {}
    return [known[k] if k in known else fresh[k] for k in keys]


def _measured_values(measured: Measured | None, keys: list[str], gt: dict[str, np.ndarray],
                     cand: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """The whole-video values of the key frames that are the very pairs measured there: the
    GT and candidate key indices agree (:func:`_key_indices`, as the agreement check reads
    them), both frames were kept, and both are these pixels; the others are measured on their
    own. Why it is the same number: the curves went through :func:`compute_pair_metrics` with
    the same backend, device and gates, whose kernels are deterministic per frame (no
    floating-point atomics; a value near its gate re-decided by the reference in both). A big
    frame's metrics cost 10+ CPU-ms; the check costs two array comparisons."""
    if measured is None or not measured.values:
        return {}
    g, c = measured.gt, measured.cand
    g_idx, c_idx = _key_indices(keys, g.count, c.count, cand)
    out = {}
    for k in keys:
        gi, ci = g_idx.get(k), c_idx.get(k)
        if gi is None or gi != ci or not 0 <= gi < len(measured.values):
            continue
        g_at, c_at = _frame_at(g, gi), _frame_at(c, ci)
        if g_at is not None and c_at is not None and np.array_equal(g_at, gt[k]) and np.array_equal(c_at, cand[k]):
            out[k] = dict(measured.values[gi])
    return out


def _frame_at(side: _Side, i: int) -> np.ndarray | None:
    at = side.at
    if isinstance(at, Mapping):
        return at.get(i)
    return at[i] if 0 <= i < len(at) else None


def evaluate_case(case: Case, gt: dict[str, np.ndarray], cand: dict[str, np.ndarray],
                  thresholds: Thresholds, opts: CompareOptions, clip: ClipScorer,
                  measured: Measured | None = None) -> CaseResult:
    """Metrics of every key frame and the verdict of every gate (``measured``: the case's
    whole-video decode, measured with the same gates; see :func:`_pair_metrics`)."""
    keys = [k for k in case.key_frames if k in gt]
    missing = [k for k in keys if k not in cand]
    if missing:
        return CaseResult(case.id, case.modality, "missing_candidate",
                          f"candidate lacks key frames {missing}")
    gates = thresholds.gates(case.id, case.modality)
    vals = _pair_metrics(case, keys, gt, cand, opts, {m: g.value for m, g in gates.items()}, measured)
    res = CaseResult(case.id, case.modality, "passed")
    res.gt_image_mode = gt.mode_summary() if isinstance(gt, fr.FrameSet) else None
    res.candidate_image_mode = cand.mode_summary() if isinstance(cand, fr.FrameSet) else None
    cand_index = cand.indices if isinstance(cand, fr.FrameSet) else {}
    res.gates = {m: {"value": g.value, "source": g.source,
                     "direction": ">=" if HIGHER_IS_BETTER[m] else "<="} for m, g in gates.items()}
    res.clip = {"available": clip.status.available, "model": clip.status.model,
                "revision": clip.status.revision, "reason": clip.status.reason,
                "disabled": clip.status.disabled}
    all_ok = True
    for key, v in zip(keys, vals):
        metrics: dict[str, float | None] = dict(v)
        metrics["clip"] = clip.score(gt[key], cand[key])
        passed: dict[str, bool | None] = {}
        for m in METRICS:
            val = metrics.get(m)
            passed[m] = None if val is None else gates[m].passes(val)
            all_ok &= passed[m] is not False
        res.frames.append(FrameResult(frame=key, index=cand_index.get(key), metrics=metrics,
                                      passed=passed))
    res.worst = {m: worst([f.metrics.get(m) for f in res.frames], m) for m in METRICS}
    failing = [f"{m} {w:.4g} {'<' if HIGHER_IS_BETTER[m] else '>'} {gates[m].value:g}"
               for m in METRICS if (w := res.worst[m]) is not None and not gates[m].passes(w)]
    if not all_ok:
        res.status = "failed"
        res.message = "gate failed: " + ", ".join(failing)
    elif not clip.status.available:
        if opts.require_clip:
            res.status = "error"
            res.message = f"CLIP gate not evaluated and --require-clip is set: {clip.status.reason}"
        else:
            res.message = clip.status.note  # "disabled" when the user turned CLIP off
    return res


def pipelined() -> bool:
    """Whether whole-video compares decode GT and candidate at once, measure while decoding
    and decode the next case meanwhile (default). ``GT_GEN_COMPARE_PIPELINE=0`` does each
    step after the other, as a reference for tests and benchmarks: the results are the same."""
    return os.environ.get("GT_GEN_COMPARE_PIPELINE", "1") != "0"


@dataclass
class _Side:
    """One decoded video as the curves need it: its frame count, first frame's shape, colour
    tag and matrix, and frames by index (all of them, or those kept while streaming)."""

    count: int
    shape: tuple[int, ...]
    tag: str
    matrix: str
    at: Mapping[int, np.ndarray] | Sequence[np.ndarray]
    #: gt_gen.video_decode.StreamInfo of the decode (sync points, timestamps, counts).
    info: Any = None


def frame_alloc(device: str) -> Callable[[tuple[int, ...]], np.ndarray] | None:
    """Where a :class:`~gt_gen.video_decode.FrameStream` puts the frames it decodes for
    metrics on ``device``: on a GPU, chunk buffers of pinned host memory (they reach the GPU
    without a staging copy); on the CPU none (each frame stays in its own decoded buffer)."""
    if str(device).startswith("cuda"):
        from gt_gen.metrics.fast_torch import pinned_empty

        return pinned_empty  # type: ignore[no-any-return]
    return None


class CurvesJob:
    """Both videos of a case decoding now, each by its own worker (:class:`FrameStream`),
    for :func:`all_frame_curves` to measure as the frames arrive.

    ``keep``: candidate frame indices to hold on to beyond sglang's key indices by the
    declared count (OpenCV's key indices of the candidate: the agreement check needs them).
    ``submit``: where the decoders run (an executor's ``submit``; default: their own threads).
    A job must be :meth:`close`-d (``with`` does it): that stops decoders nobody reads."""

    def __init__(self, gt_video: bytes | Path, cand_video: Path, matrix: str, *, gt_where: str,
                 keep: Iterable[int] = (), submit: Callable[[Callable[[], None]], object] | None = None,
                 device: str = "cpu") -> None:
        from gt_gen.video_decode import FrameStream, pair_decode_threads

        alloc = frame_alloc(device)
        threads = pair_decode_threads(device)  # two decoders share the CPUs
        self.gt = FrameStream(gt_video, matrix, where=gt_where, alloc=alloc, threads=threads)
        self.cand = FrameStream(cand_video, matrix, where=cand_video, alloc=alloc, threads=threads)
        self.keep = set(keep)
        self.gt.start(submit)
        self.cand.start(submit)

    def close(self) -> None:
        self.gt.close()
        self.cand.close()

    def __enter__(self) -> CurvesJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_curves(gt_video: bytes | Path, cand_video: Path, opts: CompareOptions, *, gt_where: str,
                 cand_keys: dict[str, np.ndarray] | None = None,
                 submit: Callable[[Callable[[], None]], object] | None = None) -> CurvesJob:
    """Start decoding both videos of a case (see :class:`CurvesJob`) ahead of
    :func:`all_frame_curves`, e.g. while the case before it is measured."""
    return CurvesJob(gt_video, cand_video, opts.colour_matrix, gt_where=gt_where,
                     keep=(getattr(cand_keys, "indices", None) or {}).values(), submit=submit,
                     device=opts.device)


@dataclass
class Measured:
    """Both videos of a case decoded and measured pair by pair: what :func:`finish_curves`
    turns into curves and the key-frame agreement."""

    gt: _Side
    cand: _Side
    values: list[dict[str, float]]


def measure_curves(gt_video: bytes | Path, cand_video: Path, opts: CompareOptions, *,
                   gt_where: str, cand_keys: dict[str, np.ndarray] | None = None,
                   gates: dict[str, float | None] | None = None,
                   job: CurvesJob | None = None) -> Measured:
    """Decode both videos and measure every frame pair (the first half of
    :func:`all_frame_curves`): pipelined (``job`` started earlier by :func:`start_curves`,
    else here), or GT, then candidate, then the metrics. Same numbers, same errors (a GT
    decode error first, then the candidate's, then a metric error), whichever way."""
    if job is None and not pipelined():
        return Measured(*_curves_in_line(gt_video, cand_video, opts, gt_where, gates))
    with job if job is not None else start_curves(gt_video, cand_video, opts, gt_where=gt_where,
                                                  cand_keys=cand_keys) as running:
        return Measured(*_curves_streamed(running, opts, gates))


def all_frame_curves(res: CaseResult, gt_video: bytes | Path, cand_video: Path,
                     opts: CompareOptions, *, gt_where: str,
                     gt_keys: dict[str, np.ndarray] | None = None,
                     cand_keys: dict[str, np.ndarray] | None = None,
                     gates: dict[str, float | None] | None = None,
                     job: CurvesJob | None = None) -> None:
    """Per-frame metric curves of two whole videos (``--frames all``) into ``res.curves``,
    and into ``res.whole_video`` what they cover and whether they agree with the key frames:
    :func:`measure_curves`, then :func:`finish_curves`."""
    measured = measure_curves(gt_video, cand_video, opts, gt_where=gt_where, cand_keys=cand_keys,
                              gates=gates, job=job)
    finish_curves(res, measured, gt_video, cand_video, opts, gt_where=gt_where, gt_keys=gt_keys,
                  cand_keys=cand_keys)


class FirstFrameOnly(fr.FrameSet):
    """OpenCV's frame 0 and frame count of a candidate mp4, read ahead of its whole decode
    (one frame, off the main thread, on one FFmpeg thread: the whole decode has the CPUs; an
    OpenCV error on the file is raised there, where a key-frame read would raise it): the
    other key frames wait for that decode."""


def read_first_frame(path: Path) -> FirstFrameOnly:
    got = fr.read_key_frames(path, ("first",), how="seek", threads=1)
    return FirstFrameOnly(dict(got), sources=got.sources, indices=got.indices, total=got.total)


def candidate_key_frames(measured: Measured, cand_video: Path, case: Case,
                         first: fr.FrameSet | None = None) -> tuple[fr.FrameSet, str]:
    """The candidate's key frames after its whole decode: taken from that decode where they
    are provably OpenCV's (:mod:`gt_gen.keyframe_reuse`), else read by OpenCV's seek as
    sglang reads them; and which of the two it was, and why."""
    from gt_gen.keyframe_reuse import key_frames_from_decode

    c = measured.cand
    why = "no stream information"
    if c.info is not None and c.count:
        at = c.at if isinstance(c.at, Mapping) else dict(enumerate(c.at))
        got, why = key_frames_from_decode(cand_video, tuple(case.key_frames), at, c.info, first=first)
        if got is not None:
            return got, why  # type: ignore[return-value]
    return load_candidate_frames(cand_video, case), f"OpenCV's seek, as sglang ({why})"


def finish_curves(res: CaseResult, measured: Measured, gt_video: bytes | Path, cand_video: Path,
                  opts: CompareOptions, *, gt_where: str,
                  gt_keys: dict[str, np.ndarray] | None = None,
                  cand_keys: dict[str, np.ndarray] | None = None) -> None:
    """The curves of ``measured`` into ``res`` (whose key-frame results are in).

    Both videos are decoded as OpenCV decodes them (:mod:`gt_gen.video_decode`), so at each
    key index the curve *is* the key-frame metric; where it cannot be (frame counts differ,
    a forced colour matrix, GT key-frame files that are not this mp4's frames), the entry of
    that key frame in ``res.whole_video["key_frames"]`` says why. A frame-count mismatch
    never aborts the run: the curves cover the common prefix and the key-frame verdict
    stands."""
    g, c, vals = measured.gt, measured.cand, measured.values
    if isinstance(g.at, dict):  # streamed: only some frames were kept
        g_idx, c_idx = _key_indices((f.frame for f in res.frames), g.count, c.count, cand_keys)
        _complete(g, gt_video, opts, gt_where, set(g_idx.values()))
        _complete(c, cand_video, opts, str(cand_video), set(c_idx.values()))
    n = min(g.count, c.count)
    notes: list[str] = []
    if g.count != c.count:
        notes.append(f"GT has {g.count} frames but the candidate has {c.count}: "
                     f"curves cover the first {n}; the key-frame verdict is unaffected")
    if g.shape != c.shape:
        gh, gw = g.shape[:2]
        ch, cw = c.shape[:2]
        notes.append(f"GT video is {gw}x{gh} but the candidate video is {cw}x{ch}: no curves")
        n = 0
    if n and min(g.shape[:2]) < MIN_SIDE:
        notes.append("frames are smaller than SSIM's 7x7 window: no curves")
        n = 0
    vals = vals[:n]
    res.curves = {m: [v[m] for v in vals] for m in ("ssim", "psnr", "mean_abs_diff")} if n else {}
    info: dict[str, Any] = {
        "decoder": "pyav, bgr24 with the bicubic scaler (OpenCV's conversion), then rgb",
        "colour_matrix": opts.colour_matrix,
        "gt": {"file": gt_where, "frames": g.count, "tag": g.tag, "matrix": g.matrix},
        "candidate": {"file": str(cand_video), "frames": c.count, "tag": c.tag,
                      "matrix": c.matrix},
        "compared_frames": n, "notes": notes,
        "key_frames": _key_frame_agreement(res, g, c, n, opts, gt_keys, cand_keys,
                                           (g.tag, c.tag))}
    res.whole_video = info
    if notes:
        res.message = (res.message + "; " if res.message else "") + "whole video: " + "; ".join(notes)


def _comparable(gshape: tuple[int, ...], cshape: tuple[int, ...]) -> bool:
    return gshape == cshape and min(gshape[:2]) >= MIN_SIDE


def _curves_in_line(gt_video: bytes | Path, cand_video: Path, opts: CompareOptions, gt_where: str,
                    gates: dict[str, float | None] | None
                    ) -> tuple[_Side, _Side, list[dict[str, float]]]:
    """The reference path: decode the GT, then the candidate, then measure."""
    from gt_gen.video_decode import decode_all

    g = decode_all(gt_video, opts.colour_matrix, where=gt_where)
    c = decode_all(cand_video, opts.colour_matrix, where=cand_video)
    n = min(len(g.frames), len(c.frames))
    if not _comparable(g.frames[0].shape, c.frames[0].shape):
        n = 0
    vals = (compute_pair_metrics(g.frames[:n], c.frames[:n], backend=opts.metrics_backend,
                                 device=opts.device, gates=gates) if n else [])
    return (_Side(len(g.frames), g.frames[0].shape, g.tag, g.matrix, g.frames, g.stream),
            _Side(len(c.frames), c.frames[0].shape, c.tag, c.matrix, c.frames, c.stream), vals)


class _Reader:
    """One stream's chunks read frame by frame on demand, keeping the frames the agreement
    check may need (sglang's key indices by the declared count, ``keep``, and the last)."""

    def __init__(self, stream: Any, keep: set[int]) -> None:
        self.stream, self.keep = stream, keep
        #: The stream's frames are BGR (kept frames are stored as RGB copies).
        self.bgr = bool(getattr(stream, "bgr", False))
        self._chunks = stream.chunks()
        self.chunk: np.ndarray | None = None
        self.pos = 0  # next unread frame of self.chunk
        self.count = 0  # frames handed out so far
        self.shape: tuple[int, ...] | None = None
        self.at: dict[int, np.ndarray] = {}
        self.last: np.ndarray | None = None
        self.done = False
        self.failed: BaseException | None = None

    def fill(self) -> bool:
        """Make sure unread frames are at hand; False at the end of the video."""
        while not self.done and (self.chunk is None or self.pos >= len(self.chunk)):
            try:
                nxt = next(self._chunks, None)
            except BaseException as exc:
                self.failed, self.done, self.chunk = exc, True, None
                raise
            if nxt is None:
                self.done, self.chunk = True, None
                break
            if self.shape is None:
                self.shape = nxt.shape[1:]
                d = self.stream.info.declared
                self.keep |= {0, d // 2, d - 1} if d else {0}
            self.chunk, self.pos = nxt, 0
        return not self.done

    def avail(self) -> int:
        return 0 if self.chunk is None else len(self.chunk) - self.pos

    def take(self, m: int) -> np.ndarray:
        """The next ``m`` frames (a view into the chunk), copying out the ones to keep."""
        assert self.chunk is not None and m > 0
        out = self.chunk[self.pos:self.pos + m]
        for idx in self.keep.intersection(range(self.count, self.count + m)):
            self.at[idx] = self._rgb_copy(out[idx - self.count])
        self.pos += m
        self.count += m
        self.last = out[m - 1]
        return out

    def drain(self) -> None:
        """Read to the end (counting, keeping), raising the stream's error if it has one."""
        while self.fill():
            self.take(self.avail())

    def _rgb_copy(self, frame: np.ndarray) -> np.ndarray:
        from gt_gen.video_decode import to_rgb

        return to_rgb(np.ascontiguousarray(frame)) if self.bgr else frame.copy()

    def side(self) -> _Side:
        at = dict(self.at)
        if self.last is not None:
            at.setdefault(self.count - 1, self._rgb_copy(self.last))
        info = self.stream.info
        return _Side(self.count, self.shape or (0, 0, 3), info.tag, info.matrix, at, info)


def _curves_streamed(job: CurvesJob, opts: CompareOptions, gates: dict[str, float | None] | None
                     ) -> tuple[_Side, _Side, list[dict[str, float]]]:
    """Measure each run of frame pairs as both decoders deliver it. An error is the one the
    in-line path raises first: the GT's decode error, then the candidate's, then the metrics'
    (so after an error the streams before it in that order are read to their end)."""
    g, c = _Reader(job.gt, set()), _Reader(job.cand, set(job.keep))
    assert g.bgr == c.bgr, "both streams of a case hand frames over the same way"
    vals: list[dict[str, float]] = []
    # Pairs on several threads only where the reader owns its frames (the CPU streams: a new
    # buffer per frame); recycled chunk buffers (pinned memory, GPU metrics) would be refilled
    # under a pair still in flight.
    workers = metric_workers(opts.device) if g.bgr else 1
    threads = 1 if workers > 1 else 0
    with OrderedPool[dict[str, float]](workers) as pool:
        try:
            comparable: bool | None = None
            while g.fill() and c.fill():
                if comparable is None:
                    assert g.shape is not None and c.shape is not None
                    comparable = _comparable(g.shape, c.shape)
                m = min(g.avail(), c.avail())
                gs, cs = g.take(m), c.take(m)
                if comparable:  # arrays, not lists: the batch goes to the kernel without a copy
                    vals += pool.submit(functools.partial(
                        compute_pair_metrics, gs, cs, backend=opts.metrics_backend,  # type: ignore[arg-type]
                        device=opts.device, gates=gates, bgr=g.bgr, threads=threads))
            g.drain()
            c.drain()
            vals += pool.finish()
        except Exception as exc:
            pool.close()  # nothing more is measured: the first error decides
            if g.failed is not exc:
                g.drain()  # the GT's own error comes first
                if c.failed is not exc:
                    c.drain()  # then the candidate's, before an error of the metrics
            raise
    return g.side(), c.side(), vals


def _key_indices(keys: Iterable[str], g_count: int, c_count: int,
                 cand_keys: dict[str, np.ndarray] | None) -> tuple[dict[str, int], dict[str, int]]:
    """Each key frame's index in the GT video (sglang's, by its frame count) and in the
    candidate (where OpenCV read it; else by its count)."""
    from gt_gen.frames import key_frame_indices

    g_idx = key_frame_indices(g_count, tuple(keys))
    c_idx = getattr(cand_keys, "indices", {}) or key_frame_indices(c_count, tuple(g_idx))
    return g_idx, c_idx


def _complete(side: _Side, video: bytes | Path, opts: CompareOptions, where: str,
              need: set[int]) -> None:
    """Add to ``side`` the frames at ``need`` it did not keep while streaming: only when the
    container declared no frame count, or a wrong one (an mp4 declares it), are they read
    again."""
    at = side.at
    assert isinstance(at, dict)
    missing = {i for i in need if 0 <= i < side.count} - set(at)
    if missing:
        from gt_gen.video_decode import bgr_frames, to_rgb

        for i, bgr in enumerate(bgr_frames(video, opts.colour_matrix, where=where)):
            if i in missing:
                at[i] = to_rgb(bgr)


def _key_frame_agreement(res: CaseResult, g: _Side, c: _Side, n: int,
                         opts: CompareOptions, gt_keys: dict[str, np.ndarray] | None,
                         cand_keys: dict[str, np.ndarray] | None,
                         tags: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """For each key frame: its index in both videos and whether the curve there equals the
    key-frame metric (and if not, why)."""
    from gt_gen.video_decode import matrix_of_tag

    g_idx, c_idx = _key_indices((f.frame for f in res.frames), g.count, c.count, cand_keys)
    forced = opts.colour_matrix != "auto" and any(matrix_of_tag(t) != opts.colour_matrix
                                                  for t in tags)
    out: dict[str, dict[str, Any]] = {}
    for f in res.frames:
        gi, ci = g_idx.get(f.frame), c_idx.get(f.frame)
        why: list[str] = []
        if gi != ci:
            why.append(f"the key frame is GT frame {gi} but candidate frame {ci} (frame counts "
                       "differ), while the curve pairs equal indices")
        elif gi is None or gi >= n:
            why.append(f"frame {gi} is beyond the {n} compared frames")
        else:
            for side, frames, keys in (("GT", g.at, gt_keys), ("candidate", c.at, cand_keys)):
                if keys is not None and f.frame in keys and not np.array_equal(frames[gi], keys[f.frame]):
                    diff = int(np.abs(frames[gi].astype(np.int16) - keys[f.frame]).max())
                    src = getattr(keys, "sources", {}).get(f.frame, "its key-frame file")
                    why.append(f"{side} frame {gi} of the mp4 differs from {src} by up to {diff} "
                               "levels" + (f" (--colour-matrix {opts.colour_matrix} overrides "
                                           f"the stream's {'/'.join(sorted(set(tags)))} tag, "
                                           "which OpenCV follows)" if forced else
                                           " (the key-frame file is not this mp4's frame as "
                                           "OpenCV decodes it)"))
            if not why and res.curves:
                deltas = {m: abs(res.curves[m][gi] - f.metrics[m])  # type: ignore[operator]
                          for m in res.curves if f.metrics.get(m) is not None
                          and res.curves[m][gi] != f.metrics[m]}
                if deltas:
                    why.append(f"metrics differ by {deltas} on identical pixels")
        out[f.frame] = {"gt_index": gi, "candidate_index": ci,
                        "curve_equals_key_frame": not why, "why_not": "; ".join(why) or None}
    return out


def gate_all_frames(res: CaseResult, thresholds: Thresholds, case: Case) -> None:
    """Apply the gates to every frame's curve (``--gate-frames all``). Frames one video has
    and the other lacks cannot pass a gate on every frame: a frame-count mismatch fails."""
    gates = thresholds.gates(case.id, case.modality)
    bad = []
    wv = res.whole_video
    if wv and wv["gt"]["frames"] != wv["candidate"]["frames"]:
        bad.append(f"GT has {wv['gt']['frames']} frames but the candidate has "
                   f"{wv['candidate']['frames']}")
    elif wv and not res.curves:
        bad.append("no per-frame curves (" + "; ".join(wv.get("notes", [])) + ")")
    for m, curve in res.curves.items():
        for i, v in enumerate(curve):
            if v is not None and not gates[m].passes(v):
                bad.append(f"{m} frame {i} = {v:.4g}")
                break
    if bad and res.status == "passed":
        res.status = "failed"
        # First, as the reason; what was noted before (GT unverified, CLIP off, ...) still stands.
        res.message = "whole-video gate failed: " + ", ".join(bad) + ("; " + res.message if res.message else "")


