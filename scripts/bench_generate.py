"""Benchmark: load once per group. wall(N cases in one run) vs N x wall(1 case), tiny group.

Two views, measured side by side in one invocation, medians of --repeat rounds:

* processes: ``gt-gen generate`` over the whole group in one process, against one process
  per case (what a naive per-case CI job pays: imports and model loads every time);
* in process: each case's wall time inside the group run (cases after the first reuse the
  models already built) against its *pure pipeline* time, measured by running the same case
  again once every model it needs is in memory. Target: <= 1.05 for every case after the first.

    python scripts/bench_generate.py [--repeat 3] [--group tiny]
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


def main(argv: list[str] | None = None) -> int:
    from gt_gen.cases import load_registry

    ap = argparse.ArgumentParser()
    ap.add_argument("--group", default="tiny")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
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
