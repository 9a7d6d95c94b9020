"""Benchmark: load once per group. wall(N cases in one run) vs N x wall(1 case), tiny group.

Two views, measured side by side in one invocation, medians of --repeat rounds:

* processes: ``gt-gen generate`` over the whole group in one process, against one process
  per case (what a naive per-case CI job pays: imports and model loads every time);
* in process: each case's wall time inside the group run (cases after the first reuse the
  models already built) against its *pure pipeline* time, measured by running the same case
  again once every model it needs is in memory. Target: <= 1.05 for every case after the first.

    python scripts/bench_generate.py [--repeat 3] [--group tiny]
    python scripts/bench_generate.py --profile random-full [--device cuda] [--json FILE]

``--profile random-full`` measures the ltx cases at full size with random weights on a GPU
(gt_gen.generate.backends.ltx.random_full): per case wall, s/step, build time, peak memory and
the load-once ratio (see :func:`bench_random_full`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def process_walls(group: str, ids: list[str], out: Path) -> tuple[float, float]:
    def timed(args: list[str], dest: Path) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gt_gen", "generate", "--group", group, *args,
                        "--out", str(dest), "--quiet"], check=True, capture_output=True)
        return time.perf_counter() - t0
    group_wall = timed([], out / "group")
    singles = sum(timed(["--case", cid], out / f"single-{cid}") for cid in ids)
    return group_wall, singles


def in_process(cases, out: Path) -> dict[str, dict[str, float]]:
    from gt_gen.generate.official import OfficialRunner
    from gt_gen.generate.progress import Progress
    from gt_gen.generate.runner import GroupRun

    runner = OfficialRunner(torch.device("cpu"))
    first = GroupRun(cases, out / "first", progress=Progress(quiet=True), runner=runner)
    first.run()
    again = GroupRun(cases, out / "again", progress=Progress(quiet=True), runner=runner)
    again.run()
    res = {}
    for c in cases:
        a, b = first.manifest["cases"][c.id], again.manifest["cases"][c.id]
        res[c.id] = {"in_group_s": a["timings"]["total_s"], "pure_pipeline_s": b["timings"]["total_s"],
                     "load_s": a["timings"]["load_s"], "builds": a["model_builds"]}
    return res


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
                entry["runs"] = {run: measure(case, model, runner) for run in ("cold", "warm")}
                entry["load_once_ratio_warm_over_cold"] = (entry["runs"]["warm"]["wall_s"]
                                                           / entry["runs"]["cold"]["wall_s"])
                print(f"{cid} [{reuse}]: cold {entry['runs']['cold']['wall_s']:.1f}s, warm "
                      f"{entry['runs']['warm']['wall_s']:.1f}s", file=sys.stderr)
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
    from gt_gen.cases import load_registry

    ap = argparse.ArgumentParser()
    ap.add_argument("--group", default="tiny")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", choices=("tiny", "random-full"), default="tiny",
                    help="random-full: the ltx cases at full size, random weights, on --device")
    ap.add_argument("--device", default="cuda", help="random-full: cuda or cpu")
    ap.add_argument("--reuse", choices=("auto", "models", "state_dicts", "none"), default="auto",
                    help="random-full: the generate --reuse mode (auto: models where they fit)")
    ap.add_argument("--cases", nargs="*", help="random-full: case ids (default: the ltx group)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="random-full: shrink the models (CPU dry runs only; 1.0 is full size)")
    for k in ("width", "height", "frames", "steps"):
        ap.add_argument(f"--{k}", type=int, help=f"random-full: override {k} (dry runs only)")
    ap.add_argument("--json", help="random-full: also write the report to this file")
    a = ap.parse_args(argv)
    if a.profile == "random-full":
        return bench_random_full(a)
    cases = load_registry().select(group=a.group)
    ids = [c.id for c in cases]
    rounds = []
    with tempfile.TemporaryDirectory() as d:
        for r in range(a.repeat):
            root = Path(d) / f"r{r}"
            g, s = process_walls(a.group, ids, root)
            rounds.append({"group_wall_s": g, "singles_wall_s": s, "cases": in_process(cases, root / "inproc")})
    med = statistics.median
    report = {"group": a.group, "cases": ids, "repeat": a.repeat, "torch_threads": torch.get_num_threads(),
              "processes": {"group_wall_s": med(r["group_wall_s"] for r in rounds),
                            "n_single_walls_s": med(r["singles_wall_s"] for r in rounds)},
              "in_process": {}}
    report["processes"]["ratio_group_over_singles"] = (report["processes"]["group_wall_s"]
                                                       / report["processes"]["n_single_walls_s"])
    for i, cid in enumerate(ids):
        ing = med(r["cases"][cid]["in_group_s"] for r in rounds)
        pure = med(r["cases"][cid]["pure_pipeline_s"] for r in rounds)
        report["in_process"][cid] = {"position": i + 1, "in_group_s": ing, "pure_pipeline_s": pure,
                                     "ratio": ing / pure, "load_s": med(r["cases"][cid]["load_s"] for r in rounds),
                                     "target_met": None if i == 0 else ing / pure <= 1.05}
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
