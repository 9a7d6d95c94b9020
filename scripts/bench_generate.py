"""Benchmark: load once per group, for every backend, over --repeat rounds.

Two views, measured side by side in one invocation:

* processes: ``gt-gen generate`` over the selection in one process, against one process per
  case (what a naive per-case CI job pays: imports and model loads every time);
* in process: each case's wall time inside the group run against its *pure pipeline* time,
  measured by running the same case again once every model it needs is in memory. With
  ``--variants K`` every case gets K more cases of the same model (seed + 1 .. K), so each
  model has further cases: target ratio <= 1.05 for every case after a model's first.

Also prints each case's time (total, and the part spent loading) per family. The target is
checked on the median over rounds of each round's paired ratio (a round's two timings of a case
come minutes apart at most, so slow drift of the machine's load cancels); the ratio of the best
times of all rounds is printed beside it. --threads sets torch threads (default 1: steadier on
a shared CPU; the ratio does not depend on it).

    python scripts/bench_generate.py [--repeat 3] [--group tiny] [--backend diffusers] [--variants 1]
        [--steps 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def process_walls(group: str, ids: list[str], out: Path) -> tuple[float, float]:
    def timed(args: list[str], dest: Path) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gt_gen", "generate", "--group", group, *args,
                        "--out", str(dest), "--quiet"], check=True, capture_output=True)
        return time.perf_counter() - t0
    group_wall = timed([a for i in ids for a in ("--case", i)], out / "group")
    singles = sum(timed(["--case", cid], out / f"single-{cid}") for cid in ids)
    return group_wall, singles


def model_key(case: Any) -> tuple:
    """Cases with the same key share every model (the load-once memo's view)."""
    m = case.model
    return (case.backend, case.pipeline if case.backend == "diffusers" else "ltx", m.repo,
            m.revision, case.precision)


def with_variants(cases: list, k: int) -> list:
    out = []
    for c in cases:
        out.append(c)
        out += [dataclasses.replace(c, id=f"{c.id}__seed{c.request.seed + j}",
                                    request=dataclasses.replace(c.request, seed=c.request.seed + j))
                for j in range(1, k + 1)]
    return out


def in_process(cases: list, out: Path) -> dict[str, dict[str, float]]:
    from gt_gen.generate.progress import Progress
    from gt_gen.generate.runner import GroupRun

    shared: dict[str, Any] = {}
    first = GroupRun(cases, out / "first", progress=Progress(quiet=True), backends=shared)
    first.run()
    again = GroupRun(cases, out / "again", progress=Progress(quiet=True), backends=shared)
    again.run()
    res = {}
    for c in cases:
        a, b = first.manifest["cases"][c.id], again.manifest["cases"][c.id]
        if a["status"] != "ok" or b["status"] != "ok":
            raise SystemExit(f"{c.id} failed: {a.get('error') or b.get('error')}")
        res[c.id] = {"in_group_s": a["timings"]["total_s"], "pure_pipeline_s": b["timings"]["total_s"],
                     "load_s": a["timings"].get("load_s", 0.0), "builds": a["model_builds"]}
    return res


def random_full(argv: list[str]) -> int:
    """``--profile random-full``: scripts/bench_random_full.py (per case wall, s/step, build time,
    peak GPU memory, load-once ratio), with the remaining options."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_random_full import main as random_full_main

    return random_full_main(argv)


def main(argv: list[str] | None = None) -> int:
    from gt_gen.cases import load_registry

    ap = argparse.ArgumentParser()
    ap.add_argument("--group", default="tiny")
    ap.add_argument("--backend", default=None, help="only this backend's cases (e.g. diffusers)")
    ap.add_argument("--variants", type=int, default=1, help="further cases per model (other seeds)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-processes", action="store_true", help="skip the process view")
    ap.add_argument("--profile", choices=("tiny", "random-full"), default="tiny",
                    help="random-full: the ltx cases at full size, random weights, on a GPU "
                         "(its options: scripts/bench_random_full.py --help)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--steps", type=int, default=0,
                    help="denoising steps for every case (0: the cases' own); more steps make the "
                         "tiny cases long enough that timer noise does not decide the ratio")
    known, rest = ap.parse_known_args(argv)
    if known.profile == "random-full":
        return random_full(rest)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    base = [c for c in load_registry().select(group=a.group) if a.backend in (None, c.backend)]
    if a.steps:
        base = [dataclasses.replace(c, request=dataclasses.replace(c.request, steps=a.steps))
                for c in base]
    cases = with_variants(base, a.variants)
    rounds = []
    with tempfile.TemporaryDirectory() as d:
        for r in range(a.repeat):
            root = Path(d) / f"r{r}"
            entry: dict[str, Any] = {"cases": in_process(cases, root / "inproc")}
            if not a.no_processes:
                entry["group_wall_s"], entry["singles_wall_s"] = process_walls(
                    a.group, [c.id for c in base], root)
            rounds.append(entry)
    med = statistics.median
    report: dict[str, Any] = {"group": a.group, "backend": a.backend, "variants": a.variants,
                              "steps": a.steps or "the cases' own",
                              "repeat": a.repeat, "torch_threads": torch.get_num_threads(),
                              "in_process": {}}
    if not a.no_processes:
        g, s = med(r["group_wall_s"] for r in rounds), med(r["singles_wall_s"] for r in rounds)
        report["processes"] = {"group_wall_s": g, "n_single_walls_s": s, "ratio_group_over_singles": g / s}
    seen: set[tuple] = set()
    for c in cases:
        per = [r["cases"][c.id] for r in rounds]
        ing, pure = min(x["in_group_s"] for x in per), min(x["pure_pipeline_s"] for x in per)
        further = model_key(c) in seen
        seen.add(model_key(c))
        report["in_process"][c.id] = {
            "family": c.pipeline, "further_case_of_its_model": further, "in_group_s": round(ing, 4),
            "pure_pipeline_s": round(pure, 4), "ratio": round(ing / pure, 4),
            "median_round_ratio": round(med(x["in_group_s"] / x["pure_pipeline_s"] for x in per), 4),
            "load_s": round(med(x["load_s"] for x in per), 4),
            "target_met": (med(x["in_group_s"] / x["pure_pipeline_s"] for x in per) <= 1.05)
            if further else None}
    json.dump(report, sys.stdout, indent=2)
    print()
    print(f"{'case':40} {'family':26} {'in group s':>10} {'pure s':>7} {'load s':>6} {'best':>6} "
          f"{'median':>6}  further-case target (median ratio)")
    for cid, e in report["in_process"].items():
        verdict = "-" if e["target_met"] is None else ("met (<= 1.05)" if e["target_met"] else "MISSED")
        print(f"{cid:40} {e['family']:26} {e['in_group_s']:10.2f} {e['pure_pipeline_s']:7.2f} "
              f"{e['load_s']:6.2f} {e['ratio']:6.3f} {e['median_round_ratio']:6.3f}  {verdict}")
    further = [e for e in report["in_process"].values() if e["target_met"] is not None]
    if further:
        print(f"further cases of a loaded model: worst median ratio "
              f"{max(e['median_round_ratio'] for e in further):.3f} (target <= 1.05), "
              f"{sum(e['target_met'] for e in further)}/{len(further)} met; worst best-time ratio "
              f"{max(e['ratio'] for e in further):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
