"""Benchmark the ``random-full`` profile: what a full-size LTX-2 GT case costs on a GPU.

Each ltx case at its own request (768x512, 25 frames, 30 steps; HQ 1920x1088, 15 steps) runs
through the unmodified official pipelines with the real architectures and random weights built on
the device (:mod:`gt_gen.generate.backends.ltx.random_full`). Per case: a cold run (models built)
and a warm run (the same models reused, as every later case of a group), each with its wall time,
seconds per denoising step for every denoising pass, model build time (and the part spent making
random weights), the pipelines' own stages (text encoding, image conditioning, upsampling, audio
decode), peak device memory (``max_memory_allocated`` / ``max_memory_reserved``), and the load-once
ratio warm / cold. No cv2, no files written but the JSON report.

    python scripts/bench_generate.py --profile random-full [--device cuda] [--json FILE]
    python scripts/bench_random_full.py [--cases ID ...] [--reuse auto] [--runs 2] [--json FILE]

CPU dry run of the same path (tests' scale, tiny request):
    python scripts/bench_random_full.py --device cpu --scale 0.03125 --width 128 --height 128 \
        --frames 9 --steps 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

RANDOM_FULL_CASES = ("ltx_2.3_one_stage_ti2v", "ltx_2.3_two_stage_t2v_2gpus", "ltx_2_3_hq_pipeline",
                     "ltx_2_two_stage_t2v")


def bench_random_full(a: argparse.Namespace) -> int:
    """``--profile random-full``: each ltx case at its own request through the official pipelines,
    real architectures, random weights built on the device. Per case, a cold run (models built)
    and a warm run (the same models reused, as every later case of a group): wall, s/step per
    denoising pass, build time, peak device memory, and the load-once ratio warm/cold.

    ``--reuse auto``: keep the models (``models``) where they fit -- one-stage anywhere, two-stage
    (two transformers) only on a card of >= 120 GiB -- else the official behaviour (``none``);
    a case that runs out of memory keeping its models is measured again with ``none``."""
    import dataclasses
    import gc

    from gt_gen.cases import load_registry
    from gt_gen.generate.backends.ltx.random_full import RandomFullRunner, resolve_random_full
    from gt_gen.generate.backends.ltx.tiny_patch import cpu_synchronize_noop
    from gt_gen.generate.progress import Progress

    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    card_gib = torch.cuda.get_device_properties(dev).total_memory / 2**30 if cuda else 0.0

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(dev)

    class StepTimer(Progress):
        def __init__(self) -> None:
            super().__init__(quiet=True)
            self.passes: list[list[float]] = []

        def steps(self, iterable, total=None):  # type: ignore[no-untyped-def]
            times: list[float] = []
            self.passes.append(times)
            sync()
            t = time.perf_counter()
            for item in iterable:
                yield item
                sync()
                now = time.perf_counter()
                times.append(now - t)
                t = now

    import contextlib
    import importlib

    @contextlib.contextmanager
    def stage_timers(spent: dict):  # type: ignore[no-untyped-def]
        """Time the pipelines' own stage functions (as their modules see them), synced."""
        names = {"encode_prompts": "text_encode_s", "combined_image_conditionings":
                 "image_conditioning_s", "upsample_video": "upsample_s",
                 "vae_decode_audio": "audio_decode_s"}
        mods = [importlib.import_module(m) for m in ("ltx_pipelines.ti2vid_one_stage",
                "ltx_pipelines.ti2vid_two_stages", "ltx_pipelines.ti2vid_two_stages_hq")]
        saved = [(m, n, getattr(m, n)) for m in mods for n in names if hasattr(m, n)]

        def timed(fn, label):  # type: ignore[no-untyped-def]
            def inner(*args, **kw):  # type: ignore[no-untyped-def]
                sync()
                t = time.perf_counter()
                res = fn(*args, **kw)
                sync()
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
                return res
            return inner
        for m, n, fn in saved:
            setattr(m, n, timed(fn, names[n]))
        try:
            yield
        finally:
            for m, n, fn in saved:
                setattr(m, n, fn)

    def measure(case, model, runner) -> dict:  # type: ignore[no-untyped-def]
        timer = StepTimer()
        spent: dict = {}
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        gen0, secs0 = runner.memo.stats.bytes, runner.memo.stats.seconds
        with cpu_synchronize_noop(dev), timer.patch_official_loops(), stage_timers(spent):
            sync()
            t0 = time.perf_counter()
            out = runner.run(case, model)
            sync()
            wall = time.perf_counter() - t0
        res = {"wall_s": wall, "build_s": out.timings["load_s"], "builds": out.builds,
               "random_init_s": runner.memo.stats.seconds - secs0,
               "generated_gb": (runner.memo.stats.bytes - gen0) / 1e9,
               "passes": [{"steps": len(p), "s_per_step_mean": statistics.fmean(p),
                           "s_per_step_median": statistics.median(p), "total_s": sum(p)}
                          for p in timer.passes if p],
               "frames": list(out.frames.shape), "video_decode_s": out.timings["video_decode_s"],
               "stages_s": spent}
        if cuda:
            res["peak_allocated_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
            res["peak_reserved_gib"] = torch.cuda.max_memory_reserved(dev) / 2**30
        return res

    def free(runner) -> None:  # type: ignore[no-untyped-def]
        runner.release()
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()

    by_id = {c.id: c for c in load_registry().select(group="ltx")}
    report: dict = {"profile": "random-full", "device": str(dev), "reuse": a.reuse, "scale": a.scale,
                    "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", ""),
                    "gpu": torch.cuda.get_device_name(dev) if cuda else None,
                    "card_gib": card_gib, "torch": torch.__version__, "cases": {}}
    for cid in a.cases or RANDOM_FULL_CASES:
        case = by_id[cid]
        over = {k: v for k, v in (("width", a.width), ("height", a.height), ("num_frames", a.frames),
                                  ("steps", a.steps)) if v}
        if over:  # dry runs only (recorded): the GPU numbers are at each case's own request
            case = dataclasses.replace(case, request=dataclasses.replace(case.request, **over))
        r = case.request
        entry: dict = {"pipeline": case.pipeline, "overrides": over,
                       "request": f"{r.width}x{r.height}x{r.num_frames}, {r.steps} steps"}
        report["cases"][cid] = entry
        reuse = a.reuse
        if reuse == "auto":
            reuse = "models" if case.pipeline == "one_stage" or card_gib >= 120 else "none"
        t0 = time.perf_counter()
        model = resolve_random_full(case, scale=a.scale)
        entry["skeleton_s"] = time.perf_counter() - t0
        while True:
            entry["reuse"] = reuse
            runner = RandomFullRunner(dev, reuse, scale=a.scale)
            retry = False
            try:
                entry["runs"] = {run: measure(case, model, runner)
                                 for run in ("cold", "warm")[:a.runs]}
                if a.runs == 2:
                    entry["load_once_ratio_warm_over_cold"] = (entry["runs"]["warm"]["wall_s"]
                                                               / entry["runs"]["cold"]["wall_s"])
                print(f"{cid} [{reuse}]: " + ", ".join(f"{k} {v['wall_s']:.1f}s" for k, v in
                                                       entry["runs"].items()), file=sys.stderr)
            except Exception as exc:  # an OOM is a result too; the next case goes on
                err = f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"
                entry[f"error_{reuse}"] = err
                if cuda:
                    entry[f"peak_allocated_gib_at_error_{reuse}"] = (
                        torch.cuda.max_memory_allocated(dev) / 2**30)
                print(f"{cid} [{reuse}]: {err[:200]}", file=sys.stderr)
                oom = isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in err.lower()
                retry = oom and reuse == "models"
            finally:
                free(runner)
                del runner
            if not retry:
                break
            reuse = "none"
        if a.json:  # after every case: a run cut short still leaves what it measured
            Path(a.json).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"{report['gpu']} ({card_gib:.0f} GiB), random-full, reuse {a.reuse}", file=sys.stderr)
    for cid, e in report["cases"].items():
        errs = "; ".join(f"{k}: {v[:120]}" for k, v in e.items() if k.startswith("error_"))
        print(f"{cid} [{e.get('reuse')}] {e['request']} {errs}", file=sys.stderr)
        for run, v in e.get("runs", {}).items():
            steps = ", ".join(f"{p['steps']}x{p['s_per_step_mean']:.3f}s" for p in v["passes"])
            print(f"  {run}: wall {v['wall_s']:.1f}s build {v['build_s']:.1f}s steps [{steps}] "
                  f"peak {v.get('peak_allocated_gib', 0):.1f}/{v.get('peak_reserved_gib', 0):.1f} GiB "
                  f"stages {dict((k, round(x, 1)) for k, x in v['stages_s'].items())} "
                  f"decode {v['video_decode_s']:.1f}s", file=sys.stderr)
        if "load_once_ratio_warm_over_cold" in e:
            print(f"  load-once ratio warm/cold {e['load_once_ratio_warm_over_cold']:.3f}",
                  file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda or cpu")
    ap.add_argument("--reuse", choices=("auto", "models", "state_dicts", "none"), default="auto",
                    help="the generate --reuse mode (auto: models where they fit)")
    ap.add_argument("--cases", nargs="*", help="case ids (default: the ltx group)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="shrink the models (CPU dry runs only; 1.0 is full size)")
    for k in ("width", "height", "frames", "steps"):
        ap.add_argument(f"--{k}", type=int, help=f"override {k} (dry runs only)")
    ap.add_argument("--json", help="also write the report to this file (after every case)")
    ap.add_argument("--runs", type=int, choices=(1, 2), default=2,
                    help="2 = cold then warm (load-once ratio), 1 = cold only")
    return bench_random_full(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
