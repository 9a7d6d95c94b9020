"""gt-gen's verdict is sglang's: its metric, key-frame and image-reading functions beside
``gt-gen compare`` on a generated corpus, for both metric backends and both frame modes.

The ``sglang_*`` functions below are rewritten here from what sglang's consistency check is
documented and observed to do (``python/sglang/multimodal_gen/test/test_utils.py``:
``compute_ssim``, ``compute_psnr``, ``compute_mean_abs_diff``,
``extract_key_frames_from_video``, ``image_bytes_to_numpy``, ``get_consistency_gt_candidates``;
``server/consistency_utils.py`` for the older single-metric check); no sglang code is copied
and sglang is not imported (it cannot share this venv).

Gates are placed *on* the values sglang computes (equal: sglang passes; one float step past:
sglang fails; on the exact mean for MAD, where the float32 rounding decides), so any
difference in the last bits would show up as another verdict.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from gt_gen.cli import main
from tests.casefiles import case_toml
from tests.media import VideoSpec, encode, image_modes, moving_frames, video_corpus

# ---------------------------------------------------------------------------------------------
# sglang's functions, as documented (re-implemented, not imported)
# ---------------------------------------------------------------------------------------------


def sglang_ssim(output: np.ndarray, gt: np.ndarray) -> float:
    """SSIM: scikit-image, output first, channel axis 2, data range 255."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(output, gt, channel_axis=2, data_range=255))


def sglang_psnr(output: np.ndarray, gt: np.ndarray) -> float:
    """PSNR: scikit-image, GT first, data range 255 (identical frames: +inf)."""
    from skimage.metrics import peak_signal_noise_ratio

    with np.errstate(divide="ignore"):
        return float(peak_signal_noise_ratio(gt, output, data_range=255))


def sglang_mad(output: np.ndarray, gt: np.ndarray) -> float:
    """Mean |output - gt| of float32 copies, with numpy's ``.mean()`` (float32 result)."""
    diff = np.abs(output.astype(np.float32) - gt.astype(np.float32))
    return float(diff.mean())


def sglang_key_frames(video: bytes) -> list[np.ndarray]:
    """The mp4 goes to a temporary file; OpenCV's frame count gives indices 0, n // 2, n - 1;
    each is read after seeking with ``CAP_PROP_POS_FRAMES``; BGR -> RGB.

    sglang raises when a seek-and-read fails, also on a valid 1-frame mp4, whose frame 0
    OpenCV cannot read a second time: that case fails in sglang's CI, and in gt-gen's."""
    import cv2

    with tempfile.NamedTemporaryFile(suffix=".mp4", delete=False) as tmp:
        tmp.write(video)
    try:
        cap = cv2.VideoCapture(tmp.name)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        out = []
        for idx in (0, n // 2, n - 1):
            cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
            ok, bgr = cap.read()
            if not ok:
                raise ValueError(f"Failed to read frame at index {idx}")
            out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        cap.release()
        return out
    finally:
        os.unlink(tmp.name)


def sglang_all_frames(video: Path) -> list[np.ndarray]:
    """Every frame, read sequentially by the same OpenCV path (for the per-frame curves)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return out


def sglang_image(data: bytes) -> np.ndarray:
    """PIL opens the bytes and converts to RGB (alpha dropped, palettes expanded)."""
    from PIL import Image

    return np.array(Image.open(io.BytesIO(data)).convert("RGB"))


def sglang_gt_image_name(folder: Path, stem: str) -> Path:
    """With no output format: ``jpg`` first, then ``png``, then ``webp`` (never ``jpeg``)."""
    return next(folder / f"{stem}.{e}" for e in ("jpg", "png", "webp") if (folder / f"{stem}.{e}").exists())


def sglang_verdict(frames: list[dict[str, float]], gates: dict[str, float]) -> bool:
    """Every key frame passes every gate: SSIM and PSNR >=, MAD <=."""
    return all(f["ssim"] >= gates["ssim"] and f["psnr"] >= gates["psnr"]
               and f["mean_abs_diff"] <= gates["mean_abs_diff"] for f in frames)


def sglang_metrics(outs: list[np.ndarray], gts: list[np.ndarray]) -> list[dict[str, float]]:
    return [{"ssim": sglang_ssim(o, g), "psnr": sglang_psnr(o, g), "mean_abs_diff": sglang_mad(o, g)}
            for o, g in zip(outs, gts)]


# ---------------------------------------------------------------------------------------------
# the corpus: >= 30 cases of videos and images, GT and candidate folders in ci-data naming
# ---------------------------------------------------------------------------------------------

KEYS = ("0", "mid", "last")


@dataclass
class Corpus:
    cases: Path
    gt: Path
    cand: Path
    thresholds: Path
    expected: dict[str, dict]  # case id -> sglang's frames, verdict, curves


def _noisy(frames: np.ndarray, amount: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-amount, amount + 1, frames.shape)
    return np.clip(frames.astype(int) + noise, 0, 255).astype(np.uint8)


def _gates(i: int, vals: list[dict[str, float]]) -> dict[str, float]:
    """Gates right on sglang's worst values, pushed one float step to the failing side for
    some cases, and on the exact mean (not numpy's float32 one) for others."""
    ssim = min(v["ssim"] for v in vals)
    psnr = min(v["psnr"] for v in vals)
    mad = max(v["mean_abs_diff"] for v in vals)
    g = {"ssim": ssim, "psnr": psnr if math.isfinite(psnr) else 60.0, "mean_abs_diff": mad,
         "clip": 0.9}
    kind = i % 5
    if kind == 1:
        g["ssim"] = float(np.nextafter(ssim, 2.0))  # just above: sglang fails
    elif kind == 2:
        g["mean_abs_diff"] = float(np.nextafter(np.float32(mad), np.float32(-1)))  # fails
    elif kind == 3:
        g["psnr"] = float(np.nextafter(g["psnr"], 0.0))  # just below: passes
    elif kind == 4:
        g = {"ssim": 0.5, "psnr": 20.0, "mean_abs_diff": max(mad * 0.9, 0.01), "clip": 0.9}
    g["ssim"] = min(max(g["ssim"], 1e-6), 1.0)
    g["mean_abs_diff"] = min(g["mean_abs_diff"], 254.0)
    return g


def _image_specs() -> list[tuple[str, str, str, tuple[int, int], str]]:
    """(case id, GT mode, candidate mode, (h, w), GT extension)."""
    return [("i_rgb", "RGB", "RGB", (24, 32), "png"), ("i_rgba", "RGBA", "RGB", (24, 32), "png"),
            ("i_la", "LA", "RGB", (17, 23), "png"), ("i_l", "L", "L", (17, 23), "png"),
            ("i_pal", "P", "RGB", (31, 29), "png"), ("i_i16", "I;16", "RGB", (20, 20), "png"),
            ("i_cmyk", "CMYK", "RGB", (24, 40), "jpg"), ("i_jpg", "RGB", "RGB", (33, 47), "jpg"),
            ("i_webp", "RGB", "RGBA", (18, 26), "webp"), ("i_min", "RGB", "RGB", (7, 7), "png"),
            ("i_tall", "RGB", "P", (120, 9), "png"), ("i_cand_rgba", "RGB", "RGBA", (16, 64), "png"),
            ("i_cand_i16", "RGB", "I;16", (20, 21), "png"), ("i_lossless", "RGB", "RGB", (15, 15), "webp"),
            ("i_both", "RGB", "RGB", (24, 24), "png+jpg")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    from PIL import Image

    root = tmp_path_factory.mktemp("parity")
    gt, cand, src = root / "gt", root / "cand", root / "src"
    for d in (gt, cand, src):
        d.mkdir()
    toml: list[str] = []
    gates: dict[str, dict[str, float]] = {}
    expected: dict[str, dict] = {}
    i = 0
    for spec in video_corpus():
        if spec.n == 1:  # sglang's read fails on it: test_a_one_frame_candidate_fails_as_in_sglang
            continue
        cid = f"v_{spec.name}"
        frames = moving_frames(spec.n, spec.h, spec.w, spec.seed)
        g_mp4 = encode(gt / f"{cid}_1gpu.mp4", spec, frames)
        amount = (2, 6, 20, 60)[i % 4]
        c_n = spec.n - 1 if spec.name == "bframes_gop" else spec.n  # a frame-count mismatch too
        c_mp4 = encode(cand / f"{cid}_1gpu.mp4", spec, _noisy(frames[:c_n], amount, i))
        gt_keys = sglang_key_frames(g_mp4.read_bytes())
        for k, f in zip(KEYS, gt_keys):  # GT key frames as ci-data holds them (PNG, via PIL)
            Image.fromarray(f).save(gt / f"{cid}_1gpu_frame_{k}.png")
        gt_keys = [sglang_image((gt / f"{cid}_1gpu_frame_{k}.png").read_bytes()) for k in KEYS]
        out_keys = sglang_key_frames(c_mp4.read_bytes())
        vals = sglang_metrics(out_keys, gt_keys)
        gates[cid] = _gates(i, vals)
        g_all, c_all = sglang_all_frames(g_mp4), sglang_all_frames(c_mp4)
        n = min(len(g_all), len(c_all))
        expected[cid] = {"frames": vals, "verdict": sglang_verdict(vals, gates[cid]),
                         "curves": sglang_metrics(c_all[:n], g_all[:n]), "counts": (len(g_all), len(c_all))}
        toml.append(case_toml(cid, num_frames=spec.n))
        i += 1
    for cid, gmode, cmode, (h, w), ext in _image_specs():
        pic = moving_frames(1, h, w, i)[0]
        noisy = _noisy(pic[None], (3, 9, 25)[i % 3], i)[0]
        g_img = image_modes(pic)[gmode]
        c_img = image_modes(noisy)[cmode]
        for e in ext.split("+"):
            kw = {"lossless": True} if cid == "i_lossless" else ({"quality": 90} if e != "png" else {})
            # the .jpg of "i_both" is another picture: sglang reads it, not the .png
            img = image_modes(255 - pic)[gmode] if (cid == "i_both" and e == "jpg") else g_img
            img.save(gt / f"{cid}_1gpu.{e}", **kw)  # type: ignore[attr-defined]
        c_img.save(cand / f"{cid}_1gpu.png")  # type: ignore[attr-defined]
        gt_arr = sglang_image(sglang_gt_image_name(gt, f"{cid}_1gpu").read_bytes())
        out_arr = sglang_image((cand / f"{cid}_1gpu.png").read_bytes())
        vals = sglang_metrics([out_arr], [gt_arr])
        gates[cid] = _gates(i, vals)
        expected[cid] = {"frames": vals, "verdict": sglang_verdict(vals, gates[cid]),
                         "gt_mode": gmode, "cand_mode": cmode,
                         "gt_file": sglang_gt_image_name(gt, f"{cid}_1gpu").name}
        toml.append(case_toml(cid, modality="image"))
        i += 1
    cases = root / "cases"
    cases.mkdir()
    (cases / "parity.toml").write_text("\n".join(toml))
    th = root / "thresholds.json"
    th.write_text(json.dumps({"cases": {c: {f"{m}_threshold": v for m, v in g.items()}
                                        for c, g in gates.items()}}))
    return Corpus(cases=cases, gt=gt, cand=cand, thresholds=th, expected=expected)


def test_corpus_is_large_and_varied(corpus: Corpus) -> None:
    kinds = {c[0] for c in corpus.expected}
    verdicts = {e["verdict"] for e in corpus.expected.values()}
    assert len(corpus.expected) >= 30 and kinds == {"v", "i"} and verdicts == {True, False}


def _num(x: float | str) -> float:
    return float(x)


@pytest.mark.parametrize("frames", ["key", "all"])
@pytest.mark.parametrize("backend", ["reference", "fast"])
def test_gt_gen_compare_gives_sglangs_verdict_and_values(corpus: Corpus, tmp_path: Path,
                                                        backend: str, frames: str, capsys) -> None:
    out = tmp_path / "out"
    code = main(["compare", "--cases", str(corpus.cases), "--group", "parity", "--gt", str(corpus.gt),
                 "--candidate", str(corpus.cand), "--thresholds", str(corpus.thresholds),
                 "--out", str(out), "--clip-model", "none", "--no-save-frames",
                 "--metrics-backend", backend, "--frames", frames])
    capsys.readouterr()
    res = {c["case_id"]: c for c in json.loads((out / "results.json").read_text())["cases"]}
    assert set(res) == set(corpus.expected)
    worst = 0.0
    for cid, want in corpus.expected.items():
        got = res[cid]
        assert got["status"] in ("passed", "failed"), (cid, got["message"])
        assert (got["status"] == "passed") == want["verdict"], (cid, got["message"], want)
        for f, w in zip(got["frames"], want["frames"], strict=True):
            for m, v in w.items():
                g = _num(f["metrics"][m])
                if math.isinf(v) or math.isinf(g):
                    assert g == v, (cid, f["frame"], m)
                    continue
                worst = max(worst, abs(g - v))
                assert abs(g - v) <= 1e-6, (cid, f["frame"], m, g, v)
        if cid.startswith("i_"):
            assert got["gt_files"]["first"] == want["gt_file"]
            assert got["gt_image_mode"] == (want["gt_mode"] if want["gt_mode"] == "RGB"
                                            else f"{want['gt_mode']}->RGB")
            assert got["candidate_image_mode"] == (want["cand_mode"] if want["cand_mode"] == "RGB"
                                                   else f"{want['cand_mode']}->RGB")
        elif frames == "all":
            _check_curves(cid, got, want)
    assert code == (0 if all(e["verdict"] for e in corpus.expected.values()) else 1)
    assert worst <= 1e-6


def _check_curves(cid: str, got: dict, want: dict) -> None:
    """Every per-frame value equals sglang's metrics of OpenCV's frames, and at each key index
    the curve is the key-frame metric (or results.json says why not)."""
    wv = got["whole_video"]
    assert (wv["gt"]["frames"], wv["candidate"]["frames"]) == want["counts"]
    assert len(got["curves"]["ssim"]) == len(want["curves"])
    for i, w in enumerate(want["curves"]):
        for m, v in w.items():
            g = _num(got["curves"][m][i])
            assert g == v or abs(g - v) <= 1e-6, (cid, i, m, g, v)
    for f in got["frames"]:
        kf = wv["key_frames"][f["frame"]]
        if want["counts"][0] == want["counts"][1]:
            assert kf["curve_equals_key_frame"], (cid, kf)
            for m in ("ssim", "psnr", "mean_abs_diff"):
                assert _num(got["curves"][m][kf["gt_index"]]) == _num(f["metrics"][m]), (cid, m)
        else:
            assert kf["curve_equals_key_frame"] or kf["why_not"], (cid, kf)


def test_a_one_frame_candidate_fails_as_in_sglang(tmp_path: Path, capsys) -> None:
    """sglang's key-frame read raises on a 1-frame mp4 (frame 0 read a second time), so its CI
    fails the case; gt-gen must not pass it (it did once, reading each index only once)."""
    spec = next(s for s in video_corpus() if s.n == 1)
    frames = moving_frames(spec.n, spec.h, spec.w, spec.seed)
    gt, cand, cases = tmp_path / "gt", tmp_path / "cand", tmp_path / "cases"
    for d in (gt, cand, cases):
        d.mkdir()
    cid = "v_one"
    g_mp4 = encode(gt / f"{cid}_1gpu.mp4", spec, frames)
    encode(cand / f"{cid}_1gpu.mp4", spec, frames)
    with pytest.raises(ValueError, match="Failed to read frame at index 0"):
        sglang_key_frames(g_mp4.read_bytes())
    from PIL import Image

    for k in KEYS:  # the GT's key frames as they would have been written
        Image.fromarray(frames[0]).save(gt / f"{cid}_1gpu_frame_{k}.png")
    (cases / "one.toml").write_text(case_toml(cid, num_frames=1))
    for how in ("key", "all"):
        code = main(["compare", "--cases", str(cases), "--group", "one", "--gt", str(gt), "--candidate",
                     str(cand), "--out", str(tmp_path / how), "--clip-model", "none", "--frames", how])
        err = capsys.readouterr().err
        assert code != 0 and "cannot read frame 0 of 1" in err, (how, code, err)
