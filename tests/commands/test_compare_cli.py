"""``gt-gen compare`` end to end: videos encoded here, key-frame PNG dirs, every exit code."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from gt_gen.frames import read_key_frames
from tests.casefiles import case_toml
from tests.conftest import pattern_frames, run_cli, write_mp4, write_png

CASES = case_toml("vid", official=True, num_frames=25) + "\n" + case_toml("img", modality="image")


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "t.toml").write_text(CASES)
    src = pattern_frames(25)
    gt_mp4 = write_mp4(tmp_path / "gtsrc" / "vid_1gpu.mp4", src)
    gt = tmp_path / "gt"
    for key, frame in read_key_frames(gt_mp4).items():
        write_png(gt / f"vid_1gpu_frame_{ {'first': '0', 'mid': 'mid', 'last': 'last'}[key]}.png", frame)
    write_png(gt / "img_1gpu.png", src[0])
    th = tmp_path / "th.json"
    th.write_text(json.dumps({"cases": {"vid": {"ssim_threshold": 0.9, "psnr_threshold": 25,
                                                "mean_abs_diff_threshold": 8, "clip_threshold": 0.9}}}))
    good = tmp_path / "good"
    write_mp4(good / "vid_1gpu.mp4", src)
    write_png(good / "img_1gpu.png", src[0])
    bad = tmp_path / "bad"
    noisy = np.clip(src.astype(int) + np.random.default_rng(1).integers(-90, 90, src.shape), 0, 255).astype(np.uint8)
    write_mp4(bad / "vid_1gpu.mp4", noisy)
    write_png(bad / "img_1gpu.png", noisy[0])
    return {"cases": cases, "gt": gt, "th": th, "good": good, "bad": bad, "tmp": tmp_path}


def compare(s, cand: Path, out: Path, *extra: str, env=None):
    return run_cli("compare", "--cases", str(s["cases"]), "--group", "t", "--gt", str(s["gt"]),
                   "--candidate", str(cand), "--thresholds", str(s["th"]), "--out", str(out),
                   "--clip-model", "none", *extra, env=env)


def test_identical_engine_passes(setup) -> None:
    out = setup["tmp"] / "out"
    summary = setup["tmp"] / "step_summary.md"
    proc = compare(setup, setup["good"], out, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0, proc.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["schema_version"] == 1 and res["summary"]["passed"] == 2
    vid = next(c for c in res["cases"] if c["case_id"] == "vid")
    assert [f["frame"] for f in vid["frames"]] == ["first", "mid", "last"]
    assert vid["worst"]["ssim"] == 1.0 and vid["worst"]["psnr"] == "inf"  # explicit in JSON
    assert vid["frames"][0]["passed"]["clip"] is None  # not evaluated, never passed
    assert "not evaluated" in (out / "summary.md").read_text()
    assert summary.read_text() == (out / "summary.md").read_text()
    assert "<testsuite" in (out / "junit.xml").read_text()
    assert not list(out.glob("*_diff.png"))


def test_regressed_engine_fails_with_diff_image_and_annotations(setup) -> None:
    out = setup["tmp"] / "out"
    proc = compare(setup, setup["bad"], out, env={"GITHUB_ACTIONS": "true"})
    assert proc.returncode == 1
    res = json.loads((out / "results.json").read_text())
    assert {c["status"] for c in res["cases"]} == {"failed"}
    vid = next(c for c in res["cases"] if c["case_id"] == "vid")
    assert vid["worst"]["ssim"] < 0.9 and "ssim" in vid["message"]
    assert (out / "vid_diff.png").is_file() and (out / "img_diff.png").is_file()
    assert "::error title=gt-gen vid::failed" in proc.stdout
    assert 'failures="2"' in (out / "junit.xml").read_text()


def test_key_frame_png_dir_as_candidate(setup) -> None:
    out = setup["tmp"] / "out"
    proc = run_cli("compare", "--cases", str(setup["cases"]), "--case", "vid", "--gt", str(setup["gt"]),
                   "--candidate", str(setup["gt"]), "--thresholds", str(setup["th"]),
                   "--out", str(out), "--clip-model", "none", "--metrics-backend", "reference")
    assert proc.returncode == 0, proc.stderr


def test_missing_gt_is_a_failure(setup) -> None:
    for p in setup["gt"].glob("vid_*"):
        p.unlink()
    out = setup["tmp"] / "out"
    proc = compare(setup, setup["good"], out)
    assert proc.returncode == 1
    res = json.loads((out / "results.json").read_text())
    assert next(c for c in res["cases"] if c["case_id"] == "vid")["status"] == "missing_gt"


def test_all_frames_mode_writes_curves(setup) -> None:
    import shutil

    shutil.copy(setup["tmp"] / "gtsrc" / "vid_1gpu.mp4", setup["gt"] / "vid_1gpu.mp4")
    out = setup["tmp"] / "out"
    proc = compare(setup, setup["good"], out, "--frames", "all", "--case", "vid")
    assert proc.returncode == 0, proc.stderr
    vid = json.loads((out / "results.json").read_text())["cases"][0]
    assert len(vid["curves"]["ssim"]) == 25


@pytest.mark.parametrize("defect", ["truncated", "resized", "too_small", "bomb", "unknown_case",
                                    "bad_thresholds", "path_id", "decode_threads"])
def test_bad_input_exit_2_one_line_no_output(setup, defect: str) -> None:
    import cv2

    cand = setup["tmp"] / "cand"
    cand.mkdir()
    extra: list[str] = []
    th = setup["th"]
    src = pattern_frames(25)
    write_png(cand / "img_1gpu.png", src[0])
    if defect == "truncated":
        data = (setup["good"] / "vid_1gpu.mp4").read_bytes()
        (cand / "vid_1gpu.mp4").write_bytes(data[: len(data) // 4])
    elif defect == "resized":
        write_mp4(cand / "vid_1gpu.mp4", np.stack([cv2.resize(f, (64, 32)) for f in src]))
    elif defect == "too_small":  # smaller than SSIM's 7x7 window: bad input, not a crash
        write_png(setup["gt"] / "img_1gpu.png", src[0][:6, :6])
        write_png(cand / "img_1gpu.png", src[0][:6, :6])
        write_mp4(cand / "vid_1gpu.mp4", src)
    elif defect == "bomb":  # a PNG declaring 10^10 pixels
        from tests.test_frames import bomb_png

        (cand / "img_1gpu.png").write_bytes(bomb_png(100_000, 100_000))
        write_mp4(cand / "vid_1gpu.mp4", src)
    elif defect == "unknown_case":
        extra = ["--case", "nope"]
    elif defect == "path_id":
        extra = ["--case", "../vid"]
    elif defect == "decode_threads":  # checked before any work, not when the first video decodes
        write_mp4(cand / "vid_1gpu.mp4", src)
        extra = ["--frames", "all"]
    elif defect == "bad_thresholds":
        th = setup["tmp"] / "th_bad.json"
        th.write_text('{"cases": {"vid": {"ssim_threshold": 2}}}')
    out = setup["tmp"] / "out"
    proc = run_cli("compare", "--cases", str(setup["cases"]), "--group", "t", "--gt", str(setup["gt"]),
                   "--candidate", str(cand), "--thresholds", str(th), "--out", str(out),
                   "--clip-model", "none", *extra,
                   env={"GT_GEN_DECODE_THREADS": "zero"} if defect == "decode_threads" else None)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gt-gen: error:") and "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())  # no partial output
    if defect == "too_small":
        assert "SSIM needs at least 7x7" in lines[0] and "img" in lines[0]
    if defect == "bomb":
        assert "img_1gpu.png" in lines[0] and "too many pixels" in lines[0]
    if defect == "decode_threads":
        assert "GT_GEN_DECODE_THREADS must be a whole number from 1 to 64, not 'zero'" in lines[0]
    if defect == "resized":  # the case and both files are named
        assert "case vid" in lines[0] and "vid_1gpu_frame_0.png" in lines[0]
        assert str(cand / "vid_1gpu.mp4") in lines[0]


def test_debug_shows_traceback(setup) -> None:
    proc = run_cli("--debug", "compare", "--cases", str(setup["cases"]), "--case", "nope",
                   "--gt", str(setup["gt"]), "--candidate", str(setup["good"]), "--out", str(setup["tmp"] / "o"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_clip_gate_with_tiny_model(setup, tiny_clip_dir) -> None:
    out = setup["tmp"] / "out"
    proc = run_cli("compare", "--cases", str(setup["cases"]), "--group", "t", "--gt", str(setup["gt"]),
                   "--candidate", str(setup["good"]), "--thresholds", str(setup["th"]), "--out", str(out),
                   "--clip-model", str(tiny_clip_dir))
    assert proc.returncode == 0, proc.stderr
    vid = next(c for c in json.loads((out / "results.json").read_text())["cases"] if c["case_id"] == "vid")
    assert vid["clip"]["available"] and math.isclose(vid["worst"]["clip"], 1.0, abs_tol=1e-3)
    assert vid["frames"][0]["passed"]["clip"] is True


def test_whole_video_gate_catches_a_mid_video_regression(setup) -> None:
    import shutil

    shutil.copy(setup["tmp"] / "gtsrc" / "vid_1gpu.mp4", setup["gt"] / "vid_1gpu.mp4")
    src = pattern_frames(25)
    broken = src.copy()
    broken[5:8] = 255 - broken[5:8]  # frames 5-7: no key frame (0, 12, 24) sees it
    cand = setup["tmp"] / "midbad"
    write_mp4(cand / "vid_1gpu.mp4", broken)
    keys_only = compare(setup, cand, setup["tmp"] / "o1", "--case", "vid", "--frames", "all")
    assert keys_only.returncode == 0, keys_only.stdout  # sglang parity: key frames only
    res = json.loads((setup["tmp"] / "o1" / "results.json").read_text())
    curve = res["cases"][0]["curves"]["ssim"]
    assert min(curve[5:8]) < 0.5 < min(curve[:5])
    assert res["meta"]["decoder"]["all_frames"]["colour_matrix"] == "auto"
    wv = res["cases"][0]["whole_video"]
    assert wv["compared_frames"] == 25 and wv["gt"]["tag"] == "unspecified"
    assert all(k["curve_equals_key_frame"] for k in wv["key_frames"].values())
    gated = compare(setup, cand, setup["tmp"] / "o2", "--case", "vid", "--frames", "all", "--gate-frames", "all")
    assert gated.returncode == 1 and "whole-video gate failed" in gated.stdout
    # The reason comes first; what was noted before (here GT unverified, CLIP off) still stands.
    before = res["cases"][0]["message"]
    after = json.loads((setup["tmp"] / "o2" / "results.json").read_text())["cases"][0]["message"]
    assert before and after.startswith("whole-video gate failed: ") and after.endswith("; " + before), (before, after)


def _with_gt_video(setup) -> None:
    import shutil

    shutil.copy(setup["tmp"] / "gtsrc" / "vid_1gpu.mp4", setup["gt"] / "vid_1gpu.mp4")


def test_frame_count_mismatch_keeps_the_key_frame_verdict(setup) -> None:
    """--frames all with a candidate one frame short: no abort; the key-frame verdict is
    computed, curves cover the common prefix, and results.json says why."""
    _with_gt_video(setup)
    cand = setup["tmp"] / "short"
    write_mp4(cand / "vid_1gpu.mp4", pattern_frames(25)[:24])
    out = setup["tmp"] / "out"
    proc = compare(setup, cand, out, "--frames", "all", "--case", "vid")
    assert proc.returncode in (0, 1), proc.stderr
    vid = json.loads((out / "results.json").read_text())["cases"][0]
    assert [f["frame"] for f in vid["frames"]] == ["first", "mid", "last"]
    assert len(vid["curves"]["ssim"]) == 24
    wv = vid["whole_video"]
    assert wv["gt"]["frames"] == 25 and wv["candidate"]["frames"] == 24
    assert "curves cover the first 24" in wv["notes"][0] and "whole video" in vid["message"]
    assert wv["key_frames"]["first"]["curve_equals_key_frame"] is True
    last = wv["key_frames"]["last"]
    assert last["curve_equals_key_frame"] is False and "frame counts differ" in last["why_not"]
    gated = compare(setup, cand, setup["tmp"] / "o2", "--frames", "all", "--case", "vid",
                    "--gate-frames", "all")  # not every frame can pass: a failure, not a crash
    assert gated.returncode == 1 and "GT has 25 frames but the candidate has 24" in gated.stdout


def test_truncated_gt_video_names_the_gt_file_not_a_temp_copy(setup) -> None:
    data = (setup["tmp"] / "gtsrc" / "vid_1gpu.mp4").read_bytes()
    (setup["gt"] / "vid_1gpu.mp4").write_bytes(data[: len(data) // 3])
    out = setup["tmp"] / "out"
    proc = compare(setup, setup["good"], out, "--frames", "all", "--case", "vid")
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "vid_1gpu.mp4" in line and "gt-gen-video-" not in line and "/tmp" not in line.split(":")[2]


def test_images_in_any_mode_and_sglangs_jpg_first(setup) -> None:
    """An RGBA GT is read as sglang reads it (converted, recorded); with .png and .jpg of the
    same case side by side, the .jpg is the GT, as in sglang."""
    from PIL import Image

    src = pattern_frames(25)[0]
    rgba = Image.fromarray(src)
    rgba.putalpha(200)
    (setup["gt"] / "img_1gpu.png").unlink()
    rgba.save(setup["gt"] / "img_1gpu.png")
    out = setup["tmp"] / "o1"
    proc = compare(setup, setup["good"], out, "--case", "img")
    assert proc.returncode == 0, proc.stderr
    img = json.loads((out / "results.json").read_text())["cases"][0]
    assert img["gt_image_mode"] == "RGBA->RGB" and img["candidate_image_mode"] == "RGB"
    assert img["gt_files"]["first"].endswith("img_1gpu.png")
    Image.fromarray(255 - src).save(setup["gt"] / "img_1gpu.jpg", quality=95)
    out2 = setup["tmp"] / "o2"
    proc = compare(setup, setup["good"], out2, "--case", "img")
    img = json.loads((out2 / "results.json").read_text())["cases"][0]
    assert img["gt_files"]["first"].endswith("img_1gpu.jpg")
    assert proc.returncode == 1 and img["status"] == "failed"


def test_whole_video_key_frames_come_from_the_decode_only_where_provably_opencvs(setup) -> None:
    """--frames all: the key frames of a one-GOP candidate and of one with many closed (IDR)
    GOPs are taken from its whole decode, an open-GOP candidate's are still read by OpenCV's
    seek; either way every key-frame metric is the one a plain key-frame compare (sglang's
    read) gives, and results.json says which."""
    from tests.media import VideoSpec, encode

    _with_gt_video(setup)
    src = pattern_frames(25)
    noisy = np.clip(src.astype(int) + np.random.default_rng(3).integers(-6, 6, src.shape), 0, 255).astype(np.uint8)
    for name, options in (("one_gop", {"crf": "18"}), ("many_gops", {"crf": "18", "g": "5", "bf": "2"}),
                          ("open_gops", {"crf": "18", "x264-params": "keyint=5:min-keyint=5:scenecut=0:open-gop=1"})):
        cand = setup["tmp"] / name
        encode(cand / "vid_1gpu.mp4", VideoSpec(name, options=options), frames=noisy)
        runs = {}
        for frames in ("key", "all"):
            out = setup["tmp"] / f"{name}-{frames}"
            proc = compare(setup, cand, out, "--case", "vid", "--frames", frames)
            assert proc.returncode in (0, 1), proc.stderr
            runs[frames] = json.loads((out / "results.json").read_text())["cases"][0]
        assert runs["all"]["frames"] == runs["key"]["frames"] and runs["all"]["status"] == runs["key"]["status"]
        source = runs["all"]["whole_video"]["candidate"]["key_frames_from"]
        if name == "one_gop":
            assert source.startswith("the whole-video decode: one sync point"), source
        elif name == "many_gops":
            assert source.startswith("the whole-video decode: 5 IDR sync points"), source
        else:
            assert source.startswith("OpenCV's seek") and "not an IDR picture" in source, source
        assert all(k["curve_equals_key_frame"] for k in runs["all"]["whole_video"]["key_frames"].values())


def test_compare_turns_opencvs_pool_off_and_no_pixel_changes(setup) -> None:
    """compare runs OpenCV single-threaded (its spinning pool took the decoders' cores); the
    key frames OpenCV reads and the report images it makes are the same bytes either way."""
    import cv2

    from gt_gen.commands.compare_cmd import one_thread_opencv
    from gt_gen.reports import sidebyside

    video = setup["good"] / "vid_1gpu.mp4"
    noisy = setup["bad"] / "vid_1gpu.mp4"
    before = cv2.getNumThreads()

    def made() -> tuple[dict, bytes, bytes]:
        a, b = read_key_frames(video), read_key_frames(noisy)
        rows = [(a[k], b[k]) for k in a]
        return dict(a), sidebyside.case_png(rows, full=True), sidebyside.case_png(rows, full=False)

    try:
        cv2.setNumThreads(4)
        pooled = made()
        one_thread_opencv()
        assert cv2.getNumThreads() == 1
        alone = made()
    finally:
        cv2.setNumThreads(before)
    assert pooled[0].keys() == alone[0].keys()
    assert all(np.array_equal(pooled[0][k], alone[0][k]) for k in pooled[0])
    assert pooled[1:] == alone[1:]


def test_a_cut_candidate_video_is_one_error_line_with_opencvs_log_untouched(setup) -> None:
    """A candidate mp4 cut short at several points (in its data, and across its index, where
    OpenCV finds a stream but no codec): exit 2 and stderr is gt-gen's one line,
    nothing from OpenCV's C logger (which printed two ERROR lines above it for some cuts).
    Run with the user's environment as it comes, no OPENCV_* variables set."""
    import subprocess
    import sys

    _with_gt_video(setup)
    data = (setup["gt"] / "vid_1gpu.mp4").read_bytes()
    boxes, i = {}, 0  # the mp4's top-level boxes: cuts inside its index (moov) and its data
    while i + 8 <= len(data) and int.from_bytes(data[i:i + 4], "big") >= 8:
        boxes[data[i + 4:i + 8]] = (i, int.from_bytes(data[i:i + 4], "big"))
        i += boxes[data[i + 4:i + 8]][1]
    moov, moov_size = boxes[b"moov"]
    mdat, mdat_size = boxes[b"mdat"]
    cuts = [mdat + mdat_size // 2] + [moov + moov_size * k // 8 for k in range(1, 8)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    refused = 0
    for pct in cuts:
        cand = setup["tmp"] / f"cut{pct}"
        cand.mkdir()
        (cand / "vid_1gpu.mp4").write_bytes(data[:pct])
        for frames in ("key", "all"):
            out = setup["tmp"] / f"cut{pct}-{frames}"
            proc = subprocess.run([sys.executable, "-m", "gt_gen", "compare", "--cases", str(setup["cases"]),
                                   "--group", "t", "--gt", str(setup["gt"]), "--candidate", str(cand),
                                   "--thresholds", str(setup["th"]), "--out", str(out), "--clip-model", "none",
                                   "--case", "vid", "--frames", frames],
                                  capture_output=True, text=True, env=env, timeout=600)
            lines = proc.stderr.splitlines()
            assert len(lines) <= 1, (pct, frames, proc.stderr)
            if proc.returncode == 2:
                refused += 1
                assert lines[0].startswith("gt-gen: error:") and not out.exists(), (pct, frames, proc.stderr)
    assert refused >= 2  # the corpus really holds videos gt-gen refuses


def test_a_history_db_that_refuses_the_run_leaves_out_as_it_was(tmp_path: Path, tiny_gt: Path) -> None:
    """The run is recorded before any output is written: a DB that passes the checks but
    refuses inserts (here a trigger) is exit 2 with the previous results untouched."""
    import sqlite3

    from gt_gen.history import _connect

    db = tmp_path / "h.db"
    with _connect(db, write=True):  # gt-gen's own schema
        pass
    con = sqlite3.connect(db)
    con.execute("CREATE TRIGGER no_insert BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'read-only history'); END")
    con.commit()
    con.close()
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("OLD RESULTS")
    proc = run_cli("compare", "--case", "tiny_flux_t2i", "--gt", str(tiny_gt), "--candidate", str(tiny_gt),
                   "--out", str(out), "--clip-model", "none", "--history", str(db))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]
    assert (out / "results.json").read_text() == "OLD RESULTS"


def test_results_json_is_written_last_and_an_earlier_one_removed_first(tmp_path: Path, tiny_gt: Path,
                                                                       monkeypatch) -> None:
    """A compare killed between its files never leaves an earlier run's results.json beside
    this run's junit.xml and summary.md: the old one is removed first, the new one written last."""
    from gt_gen import atomic
    from gt_gen.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("EARLIER RUN")
    order: list[str] = []
    real = atomic.write_bytes

    def spy(target, data):  # every output goes through write_bytes
        order.append(Path(target).name)
        if Path(target).name == "summary.md":
            assert not (out / "results.json").exists()  # the earlier one is gone by now
        return real(target, data)

    monkeypatch.setattr(atomic, "write_bytes", spy)
    assert main(["compare", "--case", "tiny_flux_t2i", "--gt", str(tiny_gt), "--candidate", str(tiny_gt),
                 "--out", str(out), "--clip-model", "none"]) == 0
    assert order[-1] == "results.json" and {"junit.xml", "summary.md"} <= set(order)
