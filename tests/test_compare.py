"""Whole-video curves (``--frames all``): the pipelined path (both videos decoding at once,
each run of frame pairs measured as it arrives) gives exactly what the in-line path gives
(GT, then candidate, then the metrics): the same curves, notes and key-frame agreement, and
the same error when something is wrong (the GT's decode error first, then the candidate's,
then a metric error).

Both paths read frames through :func:`gt_gen.video_decode.bgr_frames`; here it is replaced
by a generator that serves planned frames (any count, a declared count that is right, wrong
or absent, a size change, a decode error at any frame), so hypothesis can try every
interleaving cheaply. Real videos are covered by tests/test_video_decode.py and the CLI tests.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen import compare as cmp
from gt_gen import video_decode as vd
from gt_gen.errors import InputFileError
from gt_gen.frames import FrameSet, key_frame_indices
from gt_gen.metrics import compute_pair_metrics
from gt_gen.results import CaseResult, FrameResult


@dataclass
class Plan:
    """What the fake decoder serves for one video."""

    n: int  # frames it decodes
    declared: int = 0  # frame count the container declares (0: none)
    h: int = 12
    w: int = 10
    fail_at: int | None = None  # a decode error instead of this frame
    resize_at: int | None = None  # frames from here on are one row taller
    seed: int = 0
    tag: str = "unspecified"

    def frame(self, i: int) -> np.ndarray:
        h = self.h + (1 if self.resize_at is not None and i >= self.resize_at else 0)
        rng = np.random.default_rng(self.seed * 1000 + i)
        return rng.integers(0, 256, (h, self.w, 3), dtype=np.uint8)


PLANS: dict[str, Plan] = {}


def fake_bgr_frames(video, matrix="auto", *, where=None, info=None, threads=0):
    """Mimics :func:`gt_gen.video_decode.bgr_frames`: frames, then its end-of-stream checks."""
    plan = PLANS[video.decode() if isinstance(video, bytes) else Path(video).name]
    name = str(where if where is not None else video)
    info = info if info is not None else vd.StreamInfo()
    info.tag, info.matrix, info.declared = plan.tag, vd.matrix_of_tag(plan.tag), plan.declared
    for i in range(plan.n):
        if i == plan.fail_at:
            raise InputFileError(f"cannot decode video (frame {i}); regenerate it", path=name)
        info.decoded += 1
        yield plan.frame(i)
    if not info.decoded:
        raise InputFileError("video has no decodable frames; regenerate it", path=name)
    if info.declared and info.decoded < info.declared:
        raise InputFileError(f"decoded {info.decoded} of {info.declared} frames (truncated video); "
                             "regenerate it", path=name)


@pytest.fixture(autouse=True)
def fake_decoder(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(vd, "bgr_frames", fake_bgr_frames)
    PLANS.clear()
    yield
    PLANS.clear()


def _keys(plan: Plan, opencv_total: int | None = None) -> FrameSet:
    """Key frames as sglang would read them (here: the planned frames, RGB)."""
    total = plan.n if opencv_total is None else opencv_total
    idx = key_frame_indices(total)
    return FrameSet({k: plan.frame(i)[..., ::-1].copy() for k, i in idx.items() if i < plan.n},
                    indices=idx, total=total)


def _result(gt: dict, cand: dict) -> CaseResult:
    res = CaseResult("c", "video", "passed")
    keys = [k for k in ("first", "mid", "last") if k in gt and k in cand]
    vals = (compute_pair_metrics([gt[k] for k in keys], [cand[k] for k in keys])
            if keys and all(gt[k].shape == cand[k].shape and min(gt[k].shape[:2]) >= 7 for k in keys) else
            [{"ssim": 0.5, "psnr": 20.0, "mean_abs_diff": 3.0} for _ in keys])
    for k, v in zip(keys, vals):
        res.frames.append(FrameResult(k, None, dict(v), {m: True for m in v}))
    return res


def _run(g: Plan, c: Plan, *, pipeline: bool, gt_keys=None, cand_keys=None, monkeypatch) -> object:
    """results of all_frame_curves (curves, whole_video, message), or the error it raised."""
    monkeypatch.setenv("GT_GEN_COMPARE_PIPELINE", "1" if pipeline else "0")
    PLANS["g"], PLANS["c.mp4"] = g, c
    res = _result(gt_keys or {}, cand_keys or {})
    try:
        cmp.all_frame_curves(res, b"g", Path("c.mp4"), cmp.CompareOptions(frames="all"),
                             gt_where="gt/g.mp4", gt_keys=gt_keys, cand_keys=cand_keys,
                             gates={"ssim": 0.9, "psnr": 30.0, "mean_abs_diff": 5.0})
    except Exception as exc:  # noqa: BLE001
        return ("error", type(exc).__name__, exc.one_line() if hasattr(exc, "one_line") else str(exc))
    return (res.curves, res.whole_video, res.message)


def _rarely(s: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), st.none(), st.none(), s)  # mostly None: most runs get to measure


plans = st.builds(
    Plan, n=st.integers(0, 13), declared=st.sampled_from([0, -1, 1]), h=st.sampled_from([12, 12, 12, 5]),
    fail_at=_rarely(st.integers(0, 13)), resize_at=_rarely(st.integers(0, 13)),
    seed=st.integers(0, 3), tag=st.sampled_from(["unspecified", "bt709"]))


def _fix(p: Plan) -> Plan:
    """declared: -1 -> the right count, 1 -> a wrong one (one more), 0 -> none."""
    p.declared = {0: 0, -1: p.n, 1: p.n + 1}[p.declared]
    return p


def _buffers(shape: tuple[int, ...]) -> np.ndarray:
    return np.empty(shape, np.uint8)


@settings(max_examples=80, deadline=None)
@given(g=plans, c=plans, chunk=st.sampled_from([1, 2, 3, 8]), depth=st.sampled_from([1, 2]),
       same_content=st.booleans(), same_count=st.booleans(), with_keys=st.booleans(),
       chunked=st.booleans(), workers=st.sampled_from([1, 3]))
def test_pipelined_equals_in_line(g: Plan, c: Plan, chunk: int, depth: int, same_content: bool,
                                  same_count: bool, with_keys: bool, chunked: bool, workers: int,
                                  monkeypatch_session) -> None:
    """Both ways a stream hands frames over: one by one in their own buffers (the CPU) and in
    recycled chunk buffers (a GPU's pinned memory, here plain arrays); and the pairs measured
    on the calling thread or on several at once (gt_gen.metric_pool)."""
    monkeypatch_session.setenv("GT_GEN_METRIC_WORKERS", str(workers))
    if same_count:
        c.n = g.n
    g, c = _fix(g), _fix(c)
    if same_content:
        c.seed, c.h, c.w = g.seed, g.h, g.w
    monkeypatch_session.setattr(vd, "CHUNK_FRAMES", chunk)
    monkeypatch_session.setattr(vd, "DEPTH", depth)
    monkeypatch_session.setattr(cmp, "frame_alloc", lambda device: _buffers if chunked else None)
    gk = _keys(g) if with_keys and g.n and g.fail_at is None else None
    ck = _keys(c, opencv_total=c.declared or c.n) if with_keys and c.n and c.fail_at is None else None
    want = _run(g, c, pipeline=False, gt_keys=gk, cand_keys=ck, monkeypatch=monkeypatch_session)
    got = _run(g, c, pipeline=True, gt_keys=gk, cand_keys=ck, monkeypatch=monkeypatch_session)
    assert got == want


@pytest.fixture(scope="module")
def monkeypatch_session():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vd, "bgr_frames", fake_bgr_frames)
        yield mp


@pytest.mark.parametrize("gt_fail,cand_fail,resize,want", [
    (None, 3, None, "c.mp4"), (5, 1, None, "gt/g.mp4"), (None, None, 4, "candidate"),
    (7, None, 4, "gt/g.mp4"), (None, 8, 4, "c.mp4")])
@pytest.mark.parametrize("workers", [1, 3])
def test_error_precedence(gt_fail, cand_fail, resize, want, workers, monkeypatch) -> None:
    """The in-line path decodes the GT wholly, then the candidate, then measures: a later GT
    error beats an earlier candidate error, and any decode error beats a metric error (here a
    candidate that changes size mid-video), also with pairs measured on several threads."""
    monkeypatch.setenv("GT_GEN_METRIC_WORKERS", str(workers))
    monkeypatch.setattr(vd, "CHUNK_FRAMES", 2)
    g = Plan(10, declared=10, fail_at=gt_fail)
    c = Plan(10, declared=10, fail_at=cand_fail, resize_at=resize)
    got = _run(g, c, pipeline=True, monkeypatch=monkeypatch)
    assert got == _run(g, c, pipeline=False, monkeypatch=monkeypatch)
    assert got[0] == "error" and want in got[2]


def test_streaming_keeps_few_frames_and_rereads_only_when_the_count_was_not_declared(monkeypatch) -> None:
    reads: list[str] = []

    def counting(video, *a, **k):
        reads.append(str(video))
        return fake_bgr_frames(video, *a, **k)

    monkeypatch.setattr(vd, "bgr_frames", counting)
    monkeypatch.setattr(vd, "CHUNK_FRAMES", 4)
    # Undeclared: the GT's mid frame is read again; the candidate kept OpenCV's key indices.
    for declared, rereads in ((25, 0), (0, 1)):
        reads.clear()
        g, c = Plan(25, declared=declared), Plan(25, declared=declared, seed=1)
        assert _run(g, c, pipeline=True, gt_keys=_keys(g), cand_keys=_keys(c), monkeypatch=monkeypatch) \
            == _run(g, c, pipeline=False, gt_keys=_keys(g), cand_keys=_keys(c), monkeypatch=monkeypatch)
        assert len(reads) == 2 + 2 + rereads  # in-line: 2 reads; pipelined: 2 (+ rereads)


@pytest.mark.parametrize("alloc", [None, _buffers])
def test_a_closed_stream_stops_its_decoder(alloc, monkeypatch) -> None:
    """A decoder whose reader went away (an error in another case) ends, though its queue is
    full: compare never waits on it at exit."""
    PLANS["v"] = Plan(10_000, h=64, w=64)
    monkeypatch.setattr(vd, "CHUNK_FRAMES", 2)
    threads: list[threading.Thread] = []

    def submit(fn) -> None:
        threads.append(threading.Thread(target=fn, daemon=True))
        threads[-1].start()

    stream = vd.FrameStream(b"v", depth=1, alloc=alloc).start(submit)
    first = next(stream.chunks())
    assert first.shape == (1 if alloc is None else 2, 64, 64, 3)
    time.sleep(0.2)  # the decoder is now blocked on its full queue
    assert threads[0].is_alive()
    stream.close()
    threads[0].join(timeout=5)
    assert not threads[0].is_alive()


@pytest.mark.parametrize("alloc", [None, _buffers])
def test_chunks_are_the_frames_in_order(alloc, monkeypatch) -> None:
    PLANS["v"] = Plan(11, h=9, w=7, resize_at=6)
    monkeypatch.setattr(vd, "CHUNK_FRAMES", 4)
    stream = vd.FrameStream(b"v", alloc=alloc).start()
    # Chunk buffers are refilled once read past; frames handed over one by one are never
    # reused, and they are the decoder's BGR (here the planned frames themselves).
    got = [f.copy() if alloc else f for chunk in stream.chunks() for f in chunk]
    want = [PLANS["v"].frame(i)[..., ::-1] if alloc else PLANS["v"].frame(i) for i in range(11)]
    assert stream.bgr == (alloc is None)
    assert len(got) == 11 and all(np.array_equal(a, b) for a, b in zip(got, want))
    assert stream.info.decoded == 11


def _measured_case(n: int = 9, seed: int = 3) -> tuple[cmp.Measured, list[np.ndarray], list[np.ndarray]]:
    """Two n-frame videos measured frame by frame (in line, every frame kept)."""
    rng = np.random.default_rng(seed)
    g = [rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for _ in range(n)]
    c = [np.clip(f.astype(int) + rng.integers(-9, 9, f.shape), 0, 255).astype(np.uint8) for f in g]
    vals = compute_pair_metrics(g, c, backend="fast")
    side = lambda fr: cmp._Side(n, fr[0].shape, "unspecified", "bt601", fr)  # noqa: E731
    return cmp.Measured(side(g), side(c), vals), g, c


def test_key_frame_metrics_are_taken_from_the_measured_pair_only_when_it_is_that_pair(monkeypatch) -> None:
    """With the whole video measured first, a key frame whose GT and candidate pixels are the
    measured pair's at the same index takes that value (the same computation: equal to
    measuring it again, bit for bit); any other pair is measured on its own: pixels that
    differ by one level, indices that disagree, a frame beyond the measured ones."""
    case = SimpleNamespace(id="c")  # _pair_metrics names the case in errors only
    measured, g, c = _measured_case()
    n = len(g)
    idx = key_frame_indices(n)
    calls: list[int] = []

    def counting(gts, cands, **kw):
        calls.append(len(gts))
        return compute_pair_metrics(gts, cands, **kw)

    monkeypatch.setattr(cmp, "compute_pair_metrics", counting)
    opts = cmp.CompareOptions(metrics_backend="fast")
    keys = list(idx)
    gt = {k: g[i].copy() for k, i in idx.items()}
    cand = FrameSet({k: c[i].copy() for k, i in idx.items()}, indices=dict(idx))
    fresh = compute_pair_metrics([gt[k] for k in keys], [cand[k] for k in keys], backend="fast")

    got = cmp._pair_metrics(case, keys, gt, cand, opts, {}, measured)
    assert calls == [] and got == fresh  # all three reused, and they are the fresh values exactly

    gt["mid"][0, 0, 0] ^= 1  # one level: not the measured pixels
    cand_shifted = FrameSet(dict(cand), indices={**idx, "last": n - 2})  # OpenCV read another frame
    got = cmp._pair_metrics(case, keys, gt, cand_shifted, opts, {}, measured)
    assert calls == [2]  # mid and last measured again, first reused
    assert got[0] == fresh[0] and got[1] == compute_pair_metrics([gt["mid"]], [cand["mid"]], backend="fast")[0]

    calls.clear()
    short = cmp.Measured(measured.gt, measured.cand, measured.values[:n - 1])  # the last pair not measured
    cmp._pair_metrics(case, keys, {k: g[i] for k, i in idx.items()}, cand, opts, {}, short)
    assert calls == [1]
    calls.clear()
    cmp._pair_metrics(case, keys, gt, cand, opts, {}, None)  # nothing measured: all three
    assert calls == [3]


@pytest.mark.parametrize("modality", ["video", "image"])
@pytest.mark.parametrize("kind", ["folder", "fifo", "dangling", "dev-zero"])
def test_a_candidate_that_is_not_a_file_is_an_error_not_missing(tmp_path: Path, modality: str, kind: str) -> None:
    """A candidate output that is a folder, a FIFO, a device or a dangling symlink is named
    (exit 2), never "missing" and never skipped for the key-frame PNGs beside it."""
    import os

    from gt_gen.cases import load_registry
    from gt_gen.naming import candidate_image_names, key_frame_names, video_name

    reg = load_registry()
    case = next(c for c in reg.cases if c.modality == modality)
    first = tmp_path / (video_name(case) if modality == "video" else candidate_image_names(case)[0])
    if modality == "video":
        for n in key_frame_names(case).values():  # what a skipped mp4 would have let through
            (tmp_path / n).write_bytes(b"png")
    if kind == "folder":
        first.mkdir()
    elif kind == "fifo":
        os.mkfifo(first)
    elif kind == "dangling":
        first.symlink_to(tmp_path / "nowhere")
    else:
        first.symlink_to("/dev/zero")
    with pytest.raises(InputFileError, match=f"{first.name} is .*where the candidate output of {case.id} belongs"):
        cmp.find_candidate(tmp_path, case, single=False)
    first.unlink() if kind != "folder" else first.rmdir()
    assert cmp.find_candidate(tmp_path, case, single=False) == (tmp_path if modality == "video" else None)
