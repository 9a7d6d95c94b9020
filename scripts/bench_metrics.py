"""Benchmark: fast metrics vs scikit-image, per frame and for a whole 121-frame pair.

Prints JSON on stdout and a short table on stderr. Per frame, at 1536x1024 and 768x512:
scikit-image's SSIM + PSNR + MAD (sglang's computation) and the fast path on the same pair,
timed side by side (each repetition times both, one after the other, so a machine shared with
other work slows both alike): median seconds of each, the median of the per-repetition ratios
(of wall time, and of CPU time over all threads, which a busy machine disturbs less), and the
values checked (SSIM within 1e-6, PSNR and MAD equal to the bit). On CPU with the C
kernel, its portable path (what a CPU without AVX2 runs) is timed too. End to end: a 121-frame
pair at 1536x1024 encoded here, decode alone (the floor) vs decode + metrics. On CUDA
(--device cuda) the metrics time of the decoded pair includes the host-to-device copy.

    python scripts/bench_metrics.py [--device cpu|cuda] [--repeat 7] [--frames 121] [--per-frame-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gt_gen.metrics import fast, reference


def frames(n: int, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([127 + 90 * np.sin(x / (23 + 7 * c) + y / (31 + 5 * c)) for c in range(3)], -1)
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        out[t] = np.clip(base + 25 * np.sin(t / 5 + x / 40)[..., None] + rng.normal(0, 6, (h, w, 3)), 0, 255)
    return out


def _sync() -> None:
    """Wait for the GPU where torch is in use (the CPU path never imports torch)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - t0


def median_time(fn, repeat: int) -> float:
    return statistics.median(timed(fn) for _ in range(repeat))


def side_by_side(fns: dict[str, Callable[[], object]], repeat: int
                 ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each repetition times every function once, in turn: the same load for all of them.
    Wall seconds and this process's CPU seconds (all its threads) of each call."""
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            c0 = time.process_time()
            wall[k].append(timed(fn))
            cpu[k].append(time.process_time() - c0)
    return wall, cpu


def per_frame(g: np.ndarray, c: np.ndarray, dev: str, repeat: int, have_skimage: bool) -> dict:
    """The per-frame row of the report for one frame pair."""
    fast.batch_metrics(g[None], c[None], device=dev)  # warm-up (threads, CUDA context, kernels)
    got = fast.batch_metrics(g[None], c[None], device=dev)[0]
    fns: dict[str, Callable[[], object]] = {"fast": lambda: fast.batch_metrics(g[None], c[None], device=dev)}
    native = fast._native if not dev.startswith("cuda") else None
    if native is not None and hasattr(native, "isa"):
        h, w, ch = g.shape
        fns["fast_portable"] = lambda: native.metrics(g, c, h, w, ch, 255.0, "portable")
    if have_skimage:
        fns["skimage"] = lambda: (reference.ssim(g, c), reference.psnr(g, c), reference.mean_abs_diff(g, c))
    ts, cpu = side_by_side(fns, repeat)
    row: dict = {"fast_s": statistics.median(ts["fast"]), "fast_cpu_s": statistics.median(cpu["fast"])}
    if "fast_portable" in ts:
        row["fast_portable_s"] = statistics.median(ts["fast_portable"])
    if have_skimage:
        ref = ts["skimage"]
        row["skimage_s"] = statistics.median(ref)
        row["skimage_cpu_s"] = statistics.median(cpu["skimage"])
        row["ratio"] = statistics.median(r / f for r, f in zip(ref, ts["fast"]))
        # CPU seconds of the fast path count all its threads: on a machine shared with other
        # work this ratio of work done moves less than the ratio of wall times.
        row["cpu_ratio"] = statistics.median(r / max(f, 1e-9) for r, f in zip(cpu["skimage"], cpu["fast"]))
        if "fast_portable" in ts:
            row["ratio_portable"] = statistics.median(r / f for r, f in zip(ref, ts["fast_portable"]))
        row["ssim_abs_diff"] = abs(reference.ssim(g, c) - got["ssim"])
        row["psnr_equal"] = got["psnr"] == reference.psnr(g, c)
        row["mad_equal"] = got["mean_abs_diff"] == reference.mean_abs_diff(g, c)
    return row


def encode(path: Path, fr: np.ndarray) -> None:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = fr.shape[2], fr.shape[1], "yuv420p"
        s.options = {"crf": "18"}
        for f in fr:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def decode_into(path: Path, n: int, h: int, w: int, pinned: bool) -> np.ndarray:
    """Decode every frame (BT.601, explicit) straight into one (pinned, on CUDA) buffer."""
    import av

    if pinned:
        import torch

        buf = torch.empty((n, h, w, 3), dtype=torch.uint8, pin_memory=True).numpy()
    else:
        buf = np.empty((n, h, w, 3), np.uint8)
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(c.streams.video[0])):
            buf[i] = f.reformat(format="rgb24", src_colorspace="ITU601", dst_colorspace="ITU601").to_ndarray()
    return buf


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--frames", type=int, default=121)
    ap.add_argument("--skip-reference-video", action="store_true",
                    help="estimate scikit-image's whole-video time from its per-frame median")
    ap.add_argument("--per-frame-only", action="store_true",
                    help="skip the whole-video part (encoding two 121-frame videos takes a while)")
    a = ap.parse_args(argv)
    dev = a.device
    cuda = dev.startswith("cuda")
    if cuda:
        import torch
    report: dict = {"device": dev, "machine": platform.machine(), "cpu_threads": len(os.sched_getaffinity(0)),
                    "load_average_1min": os.getloadavg()[0],
                    "gpu": torch.cuda.get_device_name() if cuda else None,
                    "native_kernel": fast.native_available(), "native_isa": fast.native_isa(),
                    "repeat": a.repeat, "per_frame": {}}
    try:
        import skimage  # noqa: F401
        have_skimage = True
    except ImportError:  # e.g. on a GPU box without it: absolute figures only
        have_skimage = False
    report["skimage"] = have_skimage
    if cuda:
        from gt_gen.metrics import cuda_ssim

        t0 = time.perf_counter()
        report["cuda_kernel"] = cuda_ssim.load() is not None
        report["cuda_kernel_build_or_load_s"] = time.perf_counter() - t0
        report["cuda_kernel_error"] = cuda_ssim.error()
    for h, w in ((1024, 1536), (512, 768)):
        g, c = frames(2, h, w, 0)[0], frames(2, h, w, 1)[1]
        report["per_frame"][f"{w}x{h}"] = row = per_frame(g, c, dev, a.repeat, have_skimage)
        if have_skimage:
            port = (f", portable {row['fast_portable_s'] * 1e3:.1f} ms = {row['ratio_portable']:.0f}x"
                    if "ratio_portable" in row else "")
            print(f"{w}x{h}: skimage {row['skimage_s'] * 1e3:.0f} ms, fast {row['fast_s'] * 1e3:.1f} ms "
                  f"({report['native_isa'] or dev}) = {row['ratio']:.0f}x (CPU time {row['cpu_ratio']:.0f}x){port}; "
                  f"|dSSIM| {row['ssim_abs_diff']:.1e}, PSNR/MAD equal: {row['psnr_equal']}/{row['mad_equal']}",
                  file=sys.stderr)
    if a.per_frame_only:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    n, h, w = a.frames, 1024, 1536
    with tempfile.TemporaryDirectory() as d:
        gp, cp = Path(d) / "gt.mp4", Path(d) / "cand.mp4"
        encode(gp, frames(n, h, w, 0))
        encode(cp, frames(n, h, w, 1))
        t_decode = median_time(lambda: (decode_into(gp, n, h, w, cuda), decode_into(cp, n, h, w, cuda)), max(1, a.repeat // 2))
        G, C = decode_into(gp, n, h, w, cuda), decode_into(cp, n, h, w, cuda)
        chunk = 32 if cuda else 8
        fast.batch_metrics(G[:2], C[:2], device=dev, chunk=chunk)
        t_metrics = median_time(lambda: fast.batch_metrics(G, C, device=dev, chunk=chunk), a.repeat)
        whole = {"frames": n, "size": f"{w}x{h}", "decode_both_s": t_decode, "metrics_s": t_metrics,
                 "decode_plus_metrics_s": t_decode + t_metrics,
                 "ratio_to_decode": (t_decode + t_metrics) / t_decode}
        if have_skimage:
            whole["skimage_metrics_s_estimated"] = report["per_frame"][f"{w}x{h}"]["skimage_s"] * n
        got = fast.batch_metrics(G, C, device=dev, chunk=chunk)
        if have_skimage and not a.skip_reference_video:
            ref: list = []
            whole["skimage_metrics_s"] = median_time(
                lambda: ref.extend(reference.ssim(x, y) for x, y in zip(G, C)), 1)
            whole["max_ssim_abs_diff_vs_skimage"] = max(abs(r - g["ssim"]) for r, g in zip(ref, got))
        report["whole_video"] = whole
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
