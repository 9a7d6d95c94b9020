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
from gt_gen.reports.sidebyside import PREVIEW_PANEL_WIDTH, preview_size
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
    assert _png_width(out / "frames" / "ok.png") == 3 * preview_size(w, h)[0] + 2 * 4 < 3 * w
    assert _png_width(out / "bad_diff.png") == 3 * w + 2 * 4
    assert (out / "frames" / "bad.png").read_bytes() == (out / "bad_diff.png").read_bytes()
    assert not (out / "ok_diff.png").exists()


def _whole_video_group(tmp_path: Path, *, broken_gt: str | None = None) -> dict[str, Path]:
    """Cases `ok` (passes), `bad` (fails), `nogt` (no GT), `nocand` (no candidate), each with
    GT key-frame PNGs and the GT mp4 beside them; ``broken_gt``: that case's GT mp4 is cut."""
    ids = ["ok", "bad", "nogt", "nocand"] + ([broken_gt] if broken_gt and broken_gt not in
                                              ("ok", "bad", "nogt", "nocand") else [])
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "t.toml").write_text("".join(case_toml(c, num_frames=17) for c in ids))
    src = pattern_frames(17)
    noisy = np.clip(src.astype(int) + np.random.default_rng(1).integers(-90, 90, src.shape), 0, 255).astype(np.uint8)
    gt, cand = tmp_path / "gt", tmp_path / "cand"
    gt_mp4 = write_mp4(tmp_path / "src" / "v.mp4", src)
    for cid in ids:
        if cid != "nogt":
            for key, frame in read_key_frames(gt_mp4).items():
                write_png(gt / f"{cid}_1gpu_frame_{ {'first': '0', 'mid': 'mid', 'last': 'last'}[key]}.png", frame)
            data = gt_mp4.read_bytes()
            (gt / f"{cid}_1gpu.mp4").write_bytes(data[: len(data) * 2 // 3] if cid == broken_gt else data)
        if cid != "nocand":
            write_mp4(cand / f"{cid}_1gpu.mp4", noisy if cid == "bad" else src)
    return {"cases": cases, "gt": gt, "cand": cand, "out": tmp_path / "out"}


def _compare(g: dict[str, Path], out: Path, pipeline: bool, monkeypatch, capsys, *cases: str):
    """`gt-gen compare --frames all --gate-frames all` in this process: (exit code, stderr)."""
    from gt_gen.cli import main

    monkeypatch.setenv("GT_GEN_COMPARE_PIPELINE", "1" if pipeline else "0")
    sel = [a for c in cases for a in ("--case", c)] or ["--group", "t"]
    rc = main(["compare", "--cases", str(g["cases"]), *sel, "--gt", str(g["gt"]), "--candidate",
               str(g["cand"]), "--out", str(out), "--clip-model", "none", "--frames", "all",
               "--gate-frames", "all"])
    return rc, capsys.readouterr().err


def _outputs(out: Path) -> dict[str, object]:
    files: dict[str, object] = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                                if p.is_file() and p.name not in ("results.json", "junit.xml", "summary.md")}
    res = json.loads((out / "results.json").read_text())
    for k in ("created", "command"):
        res["meta"].pop(k)
    files["results.json"] = res
    return files


def test_pipelined_compare_gives_the_sequential_results(tmp_path: Path, monkeypatch, capsys) -> None:
    """Same results.json (apart from when and how it was run) and the same report images,
    whether the videos decode while measured and ahead of their case, or one step after another."""
    g = _whole_video_group(tmp_path)
    rc_p, _ = _compare(g, tmp_path / "p", True, monkeypatch, capsys)
    rc_s, _ = _compare(g, tmp_path / "s", False, monkeypatch, capsys)
    assert rc_p == rc_s == 1
    piped, seq = _outputs(tmp_path / "p"), _outputs(tmp_path / "s")
    assert piped == seq
    status = {c["case_id"]: c["status"] for c in piped["results.json"]["cases"]}  # type: ignore[index]
    assert status == {"ok": "passed", "bad": "failed", "nogt": "missing_gt", "nocand": "missing_candidate"}
    ok = next(c for c in piped["results.json"]["cases"] if c["case_id"] == "ok")  # type: ignore[index]
    assert len(ok["curves"]["ssim"]) == 17 and ok["whole_video"]["compared_frames"] == 17
    assert all(k["curve_equals_key_frame"] for k in ok["whole_video"]["key_frames"].values())


@pytest.mark.parametrize("pipeline", [True, False])
def test_a_corrupt_video_in_the_next_case_is_its_error_and_nothing_is_written(
        tmp_path: Path, monkeypatch, capsys, pipeline: bool) -> None:
    """Case `ok` is measured while the next case's GT mp4 (cut short) decodes: the error is
    that case's, named by its file, exit 2, and no file is written, as without pipelining."""
    g = _whole_video_group(tmp_path, broken_gt="zcut")
    rc, err = _compare(g, g["out"], pipeline, monkeypatch, capsys, "ok", "zcut")
    assert rc == 2
    line = err.strip().splitlines()[-1]
    assert "zcut_1gpu.mp4" in line and "ok_1gpu" not in line, line
    assert not g["out"].exists() or not any(g["out"].iterdir())


def test_next_case_decodes_while_this_one_is_measured_and_its_error_waits_its_turn(tmp_path: Path) -> None:
    """started_ahead: case i comes out with case i+1's two videos already submitted to the
    decoders; an error of case i+2 is raised only after case i+1 was handed out; closing the
    generator stops every decoder it started."""
    from concurrent.futures import Future

    from gt_gen.cases import load_registry
    from gt_gen.commands.compare_cmd import started_ahead
    from gt_gen.compare import CompareOptions

    case = load_registry().get("tiny_one_stage_t2v")
    mp4 = write_mp4(tmp_path / "c.mp4", pattern_frames(9))

    def part(i: int, fail: bool = False) -> tuple[Future, Future]:
        gt: Future = Future()
        gt.set_result(Loaded(case, gt={}, gt_video=(f"gt{i}.mp4", mp4.read_bytes())))
        cand: Future = Future()
        if fail:
            cand.set_exception(Boom(f"case {i}"))
        else:
            cand.set_result((mp4, read_key_frames(mp4)))
        return gt, cand

    submitted: list[object] = []
    gen = started_ahead(iter([part(0), part(1), part(2, fail=True)]), tmp_path,
                        CompareOptions(frames="all"), lambda fn: submitted.append(fn))
    first = next(gen)
    assert first.gt_video[0] == "gt0.mp4" and len(submitted) == 4  # case 1's GT and candidate too
    second = next(gen)
    assert second.gt_video[0] == "gt1.mp4"
    with pytest.raises(Boom, match="case 2"):
        next(gen)
    gen.close()
    for got in (first, second):
        assert got.curves.gt._stop.is_set() and got.curves.cand._stop.is_set()
