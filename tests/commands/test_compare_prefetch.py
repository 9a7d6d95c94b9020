"""compare reads case i+1 in a background thread while case i is measured: same order, the
same errors at the same case as reading in line, never more than one case ahead; and the
report images are cheap: a preview for a passing case, every pixel for a failing one."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.commands.compare_cmd import Loaded, ahead_of_time, join_parts, prefetched
from gt_gen.frames import read_key_frames
from gt_gen.reports.sidebyside import PREVIEW_PANEL_WIDTH
from tests.casefiles import case_toml
from tests.conftest import pattern_frames, run_cli, write_mp4, write_png


class Boom(Exception):
    pass


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 8), st.one_of(st.none(), st.integers(0, 8)), st.integers(1, 4))
def test_order_errors_and_lookahead(n: int, bad: int | None, ahead: int) -> None:
    started: list[int] = []
    main = threading.get_ident()
    threads: set[int] = set()

    def load(i: int) -> int:
        threads.add(threading.get_ident())
        started.append(i)
        if i == bad:
            raise Boom(i)
        return i * 10

    got: list[int] = []
    if bad is not None and bad < n:
        with pytest.raises(Boom) as err:
            for v in prefetched(list(range(n)), load, ahead):
                got.append(v)
                assert max(started) <= v // 10 + ahead  # never more than `ahead` cases ahead
        assert err.value.args == (bad,) and got == [i * 10 for i in range(bad)]
    else:
        for v in prefetched(list(range(n)), load, ahead):
            got.append(v)
            assert max(started) <= v // 10 + ahead
        assert got == [i * 10 for i in range(n)]
    assert main not in threads  # every read happened off the main thread


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10), st.integers(1, 4), st.integers(1, 4))
def test_ahead_of_time_keeps_order_with_several_workers(n: int, ahead: int, workers: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def slow(i: int) -> int:
        time.sleep(0.001 * ((7 * i) % 3))  # finish out of order
        return i

    with ThreadPoolExecutor(workers) as pool:
        assert [f.result() for f in ahead_of_time(list(range(n)), slow, pool, ahead)] == list(range(n))


def test_candidate_errors_count_only_where_there_is_gt(tmp_path: Path) -> None:
    """As when read in line: a case without GT is `missing_gt`, whatever its candidate holds."""
    from concurrent.futures import Future

    from gt_gen.cases import load_registry
    from gt_gen.results import CaseResult

    case = load_registry().get("tiny_one_stage_t2v")
    broken: Future = Future()
    broken.set_exception(Boom("corrupt candidate"))
    no_gt = Loaded(case, result=CaseResult(case.id, "video", "missing_gt", "no GT"))
    assert join_parts(no_gt, broken, tmp_path).result.status == "missing_gt"
    with pytest.raises(Boom):
        join_parts(Loaded(case), broken, tmp_path)
    gone: Future = Future()
    gone.set_result((None, {}))
    assert join_parts(Loaded(case), gone, tmp_path).result.status == "missing_candidate"
    # A bad GT video is an error only if the candidate is an mp4 (else it is never used).
    dir_cand: Future = Future()
    dir_cand.set_result((tmp_path, {"first": 1}))
    got = join_parts(Loaded(case, gt_video_error=Boom("bad GT video")), dir_cand, tmp_path)
    assert got.no_video == "the candidate is not an mp4" and got.gt_video is None
    mp4_cand: Future = Future()
    mp4_cand.set_result((tmp_path / "c.mp4", {"first": 1}))
    with pytest.raises(Boom, match="bad GT video"):
        join_parts(Loaded(case, gt_video_error=Boom("bad GT video")), mp4_cand, tmp_path)


def test_reading_overlaps_the_work() -> None:
    def load(i: int) -> int:
        time.sleep(0.2)
        return i

    t0 = time.perf_counter()
    for _ in prefetched(list(range(4)), load):
        time.sleep(0.2)  # "metrics" of the current case
    assert time.perf_counter() - t0 < 4 * 0.4 - 0.3  # read and work overlapped


def _png_width(path: Path) -> int:
    return cv2.imread(str(path)).shape[1]


def test_passing_case_preview_failing_case_full(tmp_path: Path) -> None:
    w, h = PREVIEW_PANEL_WIDTH + 128, 64
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "t.toml").write_text(case_toml("ok", width=w, height=h, num_frames=9)
                                  + case_toml("bad", width=w, height=h, num_frames=9))
    src = pattern_frames(9, h, w)
    noisy = np.clip(src.astype(int) + np.random.default_rng(1).integers(-90, 90, src.shape), 0, 255).astype(np.uint8)
    gt, cand = tmp_path / "gt", tmp_path / "cand"
    mp4 = write_mp4(tmp_path / "src" / "v.mp4", src)
    for cid in ("ok", "bad"):
        for key, frame in read_key_frames(mp4).items():
            write_png(gt / f"{cid}_1gpu_frame_{ {'first': '0', 'mid': 'mid', 'last': 'last'}[key]}.png", frame)
    write_mp4(cand / "ok_1gpu.mp4", src)
    write_mp4(cand / "bad_1gpu.mp4", noisy)
    out = tmp_path / "out"
    proc = run_cli("compare", "--cases", str(cases), "--group", "t", "--gt", str(gt), "--candidate",
                   str(cand), "--out", str(out), "--clip-model", "none")
    assert proc.returncode == 1, proc.stderr
    res = {c["case_id"]: c for c in json.loads((out / "results.json").read_text())["cases"]}
    assert res["ok"]["status"] == "passed" and res["bad"]["status"] == "failed"
    assert _png_width(out / "frames" / "ok.png") == 3 * PREVIEW_PANEL_WIDTH + 2 * 4
    assert _png_width(out / "bad_diff.png") == 3 * w + 2 * 4
    assert (out / "frames" / "bad.png").read_bytes() == (out / "bad_diff.png").read_bytes()
    assert not (out / "ok_diff.png").exists()
