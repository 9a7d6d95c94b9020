"""Generate the GT of a group of cases: one process, models loaded once, faults contained.

The runner knows no model family: each case goes to the backend its ``backend`` names
(:mod:`gt_gen.generate.backends`), built once per group and shared by its cases, so that a
backend's load-once memo spans the group. A failing case is recorded (error, and for
out-of-memory the peak memory) and the group goes on; the run exits 1 at the end if any case
failed. The manifest is rewritten atomically after every case, so an interrupted run leaves a
manifest of what finished and no file that looks complete but is not. An existing manifest in the output folder is merged
(:mod:`gt_gen.generate.manifest`): the cases run now replace their entries, the others stay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import resource
import time
import traceback
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from gt_gen import __version__
from gt_gen.atomic import write_json
from gt_gen.cases import Case
from gt_gen.assets.case_inputs import inputs_of
from gt_gen.assets.resolve import local_input
from gt_gen.errors import GtGenError, UsageError
from gt_gen.generate.backends import Backend, load_backend
from gt_gen.generate.manifest import MANIFEST, MANIFEST_SCHEMA, load_previous, merge_previous
from gt_gen.generate.outputs import raw_frames_sha256, write_case_outputs
from gt_gen.generate.progress import Progress
from gt_gen.redact import redact


def _pkg(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment(device: torch.device) -> dict[str, Any]:
    """Versions and hardware, recorded once per run."""
    env: dict[str, Any] = {
        "gt_gen": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "ltx_core": _pkg("ltx-core"), "ltx_pipelines": _pkg("ltx-pipelines"),
        "diffusers": _pkg("diffusers"),
        "transformers": _pkg("transformers"), "cuda": torch.version.cuda,
        "device": str(device), "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cudnn"] = torch.backends.cudnn.version()
    return env


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


#: ``random-full``: the real LTX-2 architectures with random weights made on the device
#: (gt_gen.generate.backends.ltx.random_full): what a full-size case costs, without the weights.
PROFILES = ("auto", "tiny", "full", "random-full")


class GroupRun:
    """One ``gt-gen generate`` invocation."""

    def __init__(self, cases: list[Case], out_dir: Path, *, device: str = "cpu",
                 profile: str = "auto", weights_dir: Path | None = None,
                 allow_unpinned: bool = False, reuse: str = "models",
                 progress: Progress | None = None, run_url: str = "",
                 backends: dict[str, Backend] | None = None) -> None:
        if profile not in PROFILES:
            raise UsageError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
        self.cases, self.out_dir = cases, out_dir
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda but no CUDA GPU is visible; use --device cpu")
        self.profile, self.weights_dir = profile, weights_dir
        self.allow_unpinned = allow_unpinned
        self.reuse = reuse
        #: Backend name -> instance; pass one dict to several runs to share their memos.
        self.backends: dict[str, Backend] = backends if backends is not None else {}
        self.progress = progress or Progress()
        self.manifest: dict[str, Any] = {
            "schema_version": MANIFEST_SCHEMA, "kind": "gt-gen-generate",
            "created": _now(),
            "environment": environment(self.device), "reuse": reuse,
            "run_url": redact(run_url), "frames_to_png": "through the mp4 (OpenCV seek), as sglang",
            "cases": {}}

    def _profile_of(self, case: Case) -> str:
        if self.profile == "auto":
            return "tiny" if case.model.is_tiny else "full"
        if self.profile in ("full", "random-full") and case.model.is_tiny:
            raise UsageError(f"case {case.id} uses the tiny model; run it with --profile tiny")
        if self.profile == "random-full" and case.backend != "ltx_official":
            raise UsageError(f"case {case.id}: --profile random-full covers the official LTX-2 "
                             f"cases (backend ltx_official), not backend {case.backend}")
        return self.profile

    def backend(self, case: Case) -> Backend:
        """The case's backend, created on first use and shared by the group."""
        if case.backend not in self.backends:
            self.backends[case.backend] = load_backend(case.backend, self.device, self.reuse)
        return self.backends[case.backend]

    def _write_manifest(self) -> None:
        write_json(self.out_dir / MANIFEST, self.manifest)

    def run(self) -> int:
        """Generate every selected case; 0 if all succeeded, 1 if any failed."""
        previous = load_previous(self.out_dir)  # before anything is written: bad -> exit 2
        self.out_dir.mkdir(parents=True, exist_ok=True)
        merge_previous(self.manifest, previous, {c.id for c in self.cases})
        failed = 0
        with contextlib.ExitStack() as stack:
            for name in dict.fromkeys(c.backend for c in self.cases if c.is_official):
                group = [c for c in self.cases if c.backend == name]
                try:
                    backend = self.backend(group[0])
                except GtGenError:
                    continue  # recorded per case below
                stack.enter_context(backend.session(group, self.progress))
            for i, case in enumerate(self.cases, 1):
                ok = self._run_case(i, case)
                failed += not ok
                self._write_manifest()
        self.manifest["summary"] = {"cases": len(self.cases), "failed": failed}
        self._write_manifest()
        return 1 if failed else 0

    def _run_case(self, index: int, case: Case) -> bool:
        self.progress.case_start(index, len(self.cases), case.id)
        entry: dict[str, Any] = {"created": _now(), "request": asdict(case.request),
                                 "pipeline": case.pipeline,
                                 "backend": case.backend, "gpus": case.gpus,
                                 "comparability": case.comparability, "seed": case.request.seed,
                                 "profile": self._profile_of(case)}
        if case.input_pins:  # the bytes sglang's input URLs stood for (gt_gen.assets lock)
            entry["input_pins"] = {u: p.record() for u, p in sorted(case.input_pins.items())}
        t0 = time.perf_counter()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        try:
            if not case.is_official:
                raise UsageError(f"case {case.id} is {case.comparability} on backend "
                                 f"{case.backend}: official GT is only generated for official-"
                                 f"comparable cases ({case.reason})")
            for ref in inputs_of(case):  # a missing/unpinned input stops the case before
                local_input(case, url=ref.url, path=ref.path, sha256=ref.sha256,  # any download
                            what=f"input image ({ref.field})")
            backend = self.backend(case)
            model = backend.resolve(case, self._profile_of(case), weights_dir=self.weights_dir,
                                    allow_unpinned=self.allow_unpinned)
            entry["model"] = model.provenance
            out = backend.run(case, model)
            t1 = time.perf_counter()
            entry.update(out.manifest)
            entry["files"] = write_case_outputs(case, out, self.out_dir, backend)
            entry.update(backend.finish(case, out, self.out_dir))
            entry["raw_frames_sha256"] = raw_frames_sha256(out.frames)
            entry["frames"] = int(out.frames.shape[0])
            entry["size"] = [int(out.frames.shape[2]), int(out.frames.shape[1])]
            entry["pipeline_class"] = out.pipeline_class
            entry["timings"] = {**{k: round(v, 4) for k, v in out.timings.items()},
                                "write_s": round(time.perf_counter() - t1, 4),
                                "total_s": round(time.perf_counter() - t0, 4)}
            entry["model_builds"] = out.builds
            entry["status"] = "ok"
        except Exception as exc:  # a failing case is recorded; the group goes on
            entry["status"] = "failed"
            oom = isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()
            msg = exc.one_line() if isinstance(exc, GtGenError) else f"{type(exc).__name__}: {exc}"
            entry["error"] = redact(" ".join(msg.split()))[:2000]
            if oom:
                entry["error_kind"] = "out_of_memory"
                for b in self.backends.values():
                    b.release()  # the next case starts with nothing held over
            if not isinstance(exc, GtGenError):
                entry["traceback_tail"] = redact("".join(traceback.format_exc().splitlines(True)[-6:]))
            entry["timings"] = {"total_s": round(time.perf_counter() - t0, 4)}
        entry["peak_memory"] = {"host_rss_mb_process_max": round(_peak_rss_mb(), 1)}
        if self.device.type == "cuda":
            entry["peak_memory"]["cuda_allocated_mb"] = round(
                torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
            entry["peak_memory"]["cuda_reserved_mb"] = round(
                torch.cuda.max_memory_reserved(self.device) / 2**20, 1)
        self.manifest["cases"][case.id] = entry
        self.progress.case_end(entry["status"], time.perf_counter() - t0,
                               entry.get("error", "")[:300])
        return entry["status"] == "ok"


def run_group(cases: list[Case], out_dir: str | Path, **kwargs: Any) -> int:
    return GroupRun(cases, Path(out_dir), **kwargs).run()


def env_run_url() -> str:
    s, r, i = (os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{s}/{r}/actions/runs/{i}" if s and r and i else ""
