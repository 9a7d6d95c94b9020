"""The tiny group on CUDA: wall times, GPU run-to-run bit-identity, and CPU vs GPU similarity.

Runs the official pipelines through gt-gen's runner twice on CUDA (fresh runners) and once on
CPU, on the raw decoded frames (before any video codec), and prints JSON: per case and
device the load and pipeline seconds, whether the two CUDA runs are bit-identical, and
SSIM / PSNR / MAD between CPU and CUDA key frames (the fast metrics, equal to scikit-image).

    python scripts/gpu_tiny_check.py
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

import torch

from gt_gen.cases import load_registry
from gt_gen.generate.official import OfficialRunner
from gt_gen.generate.tiny_patch import cpu_synchronize_noop, tiny_gemma_constant
from gt_gen.generate.weights import resolve_tiny
from gt_gen.metrics.fast import batch_metrics


def run(device: str, cases) -> dict:
    dev = torch.device(device)
    runner = OfficialRunner(dev)
    out = {}
    with tiny_gemma_constant(), cpu_synchronize_noop(dev):
        for case in cases:
            model = resolve_tiny(case)
            t0 = time.perf_counter()
            res = runner.run(case, model)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            wall = time.perf_counter() - t0
            f = res.frames
            out[case.id] = {"wall_s": wall, **res.timings, "frames": f,
                            "sha256": hashlib.sha256(f.contiguous().numpy().tobytes()).hexdigest()}
    return out


def main() -> int:
    cases = load_registry().select(group="tiny")
    runs = {"cuda_1": run("cuda", cases), "cuda_2": run("cuda", cases), "cpu": run("cpu", cases)}
    report: dict = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cases": {}}
    for case in cases:
        a, b, c = (runs[k][case.id] for k in ("cuda_1", "cuda_2", "cpu"))
        n = a["frames"].shape[0]
        keys = [0, n // 2, n - 1]
        sim = batch_metrics(c["frames"][keys].numpy(), a["frames"][keys].numpy())
        report["cases"][case.id] = {
            "timings": {k: {m: round(runs[k][case.id][m], 4) for m in ("wall_s", "load_s", "pipeline_s")}
                        for k in runs},
            "cuda_runs_bit_identical": a["sha256"] == b["sha256"],
            "cpu_vs_cuda_key_frames": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in s.items()} for s in sim],
            "cpu_vs_cuda_bit_identical": a["sha256"] == c["sha256"]}
    json.dump(report, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
