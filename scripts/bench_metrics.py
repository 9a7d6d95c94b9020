"""Benchmark: fast metrics vs scikit-image, per frame and for a whole 121-frame pair.

Prints JSON. Per-frame: median seconds of scikit-image SSIM (+ PSNR + MAD) and of the fast
path at 768x512 and 1536x1024, with their ratio, checking equal values. End to end: a
121-frame pair at 1536x1024 encoded here, decode alone (the floor) vs decode + metrics.
On CUDA (--device cuda) the metrics time of the decoded pair includes the host-to-device
copy. Medians of --repeat runs, measured side by side in one process.

    python scripts/bench_metrics.py [--device cpu|cuda] [--repeat 5] [--frames 121]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gt_gen.metrics import fast, reference


def frames(n: int, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([127 + 90 * np.sin(x / (23 + 7 * c) + y / (31 + 5 * c)) for c in range(3)], -1)
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        out[t] = np.clip(base + 25 * np.sin(t / 5 + x / 40)[..., None] + rng.normal(0, 6, (h, w, 3)), 0, 255)
    return out


def median_time(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


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

    buf = torch.empty((n, h, w, 3), dtype=torch.uint8, pin_memory=pinned).numpy()
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(c.streams.video[0])):
            buf[i] = f.reformat(format="rgb24", src_colorspace="ITU601", dst_colorspace="ITU601").to_ndarray()
    return buf


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", type=int, default=121)
    ap.add_argument("--skip-reference-video", action="store_true",
                    help="estimate scikit-image's whole-video time from its per-frame median")
    a = ap.parse_args(argv)
    dev = a.device
    cuda = dev.startswith("cuda")
    report: dict = {"device": dev, "machine": platform.machine(), "cpu_threads": torch.get_num_threads(),
                    "gpu": torch.cuda.get_device_name() if cuda else None,
                    "native_kernel": fast.native_available(), "repeat": a.repeat, "per_frame": {}}
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
    for h, w in ((512, 768), (1024, 1536)):
        g, c = frames(2, h, w, 0)[0], frames(2, h, w, 1)[1]
        fast.batch_metrics(g[None], c[None], device=dev)  # warm-up (CUDA context, kernels)
        fast_vals = fast.batch_metrics(g[None], c[None], device=dev)[0]
        t_fast = median_time(lambda: fast.batch_metrics(g[None], c[None], device=dev), a.repeat)
        row = {"fast_s": t_fast}
        if have_skimage:
            ref_ssim = reference.ssim(g, c)
            t_ref = median_time(lambda: (reference.ssim(g, c), reference.psnr(g, c), reference.mean_abs_diff(g, c)), a.repeat)
            row |= {"skimage_s": t_ref, "ratio": t_ref / t_fast, "ssim_abs_diff": abs(ref_ssim - fast_vals["ssim"])}
        report["per_frame"][f"{w}x{h}"] = row
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
