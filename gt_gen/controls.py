"""Controls that tell whether a gate can fail and whether it will flake.

For every official case, the same official code (any backend) produces:

* ``reference``: the request as it is (the GT);
* ``negative_seed`` and ``negative_prompt``: the same request with another seed, or an
  unrelated prompt. A gate that passes these cannot catch a real regression;
* ``noise_floor``: the same request again in a fresh pipeline (no model reuse), and with
  ``--second-device`` on another device. A gate tighter than this will flake.

Each control's key frames are scored against the reference exactly as ``compare`` scores an
engine (worst frame per metric), into ``controls.json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from gt_gen.atomic import write_json
from gt_gen.cases import Case
from gt_gen.frames import read_image
from gt_gen.generate.progress import Progress
from gt_gen.generate.runner import GroupRun
from gt_gen.metrics import compute_pair_metrics
from gt_gen.metrics.clip import ClipScorer
from gt_gen.naming import expected_outputs, key_frame_names
from gt_gen.results import encode_tree
from gt_gen.thresholds import METRICS, worst

SCHEMA_VERSION = 1
UNRELATED_PROMPT = "a plain grey concrete wall, static shot, flat light, nothing moves"
NEGATIVE = ("negative_seed", "negative_prompt")


def variants(case: Case) -> dict[str, Case]:
    """The negative controls of ``case`` (same id, so files keep their names)."""
    r = case.request
    prompt = UNRELATED_PROMPT if r.prompt != UNRELATED_PROMPT else "a bright red ball bouncing"
    return {"negative_seed": dataclasses.replace(case, request=dataclasses.replace(r, seed=r.seed + 1)),
            "negative_prompt": dataclasses.replace(case, request=dataclasses.replace(r, prompt=prompt))}


def control_files(case: Case) -> dict[str, str]:
    """Key -> file of a control's output: the key frames of a video, the image of an image case
    (``{case}_{n}gpu.png``; a key frame name would never exist for it)."""
    if case.modality == "image":
        return {"image": expected_outputs(case)[0]}
    return key_frame_names(case)


def _frames(folder: Path, case: Case) -> dict[str, Any] | None:
    paths = {k: folder / n for k, n in control_files(case).items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    return {k: read_image(p) for k, p in paths.items()}


def score(ref: dict, other: dict, clip: ClipScorer) -> dict[str, float | None]:
    """Worst value of each metric over the key frames (the gate's view of a run)."""
    keys = sorted(ref)
    vals: list[dict[str, float | None]] = [
        dict(v) for v in compute_pair_metrics([ref[k] for k in keys], [other[k] for k in keys])]
    for k, v in zip(keys, vals):
        v["clip"] = clip.score(ref[k], other[k])
    return {m: worst([v.get(m) for v in vals], m) for m in METRICS}


def run_controls(cases: list[Case], out: Path, *, device: str = "cpu", second_device: str | None = None,
                 clip_model: str = "none", progress: Progress | None = None) -> dict[str, Any]:
    """Generate every control with the official pipelines and score it; writes controls.json."""
    official = [c for c in cases if c.is_official]
    progress = progress or Progress()
    shared: dict[str, Any] = {}  # backends shared by the runs: models built once
    status: dict[str, int] = {}
    runs, done = 1 + len(NEGATIVE) + 1 + bool(second_device), [0]  # reference, negatives, floors

    def label(name: str, what: str) -> None:  # progress lines say which control runs
        done[0] += 1
        progress.label = f"control {done[0]}/{runs} {name} ({what})"

    label("reference", "the GT request")
    status["reference"] = GroupRun(official, out / "reference", device=device, progress=progress,
                                   backends=shared).run()
    for name in NEGATIVE:
        label(name, "another seed" if name == "negative_seed" else "another prompt")
        status[name] = GroupRun([variants(c)[name] for c in official], out / name, device=device,
                                progress=progress, backends=shared).run()
    label("noise_floor", "the GT request again, models rebuilt")
    status["noise_floor"] = GroupRun(official, out / "noise_floor", device=device, progress=progress,
                                     reuse="none").run()
    floors = ["noise_floor"]
    if second_device:
        key = f"noise_floor_{second_device.replace(':', '')}"
        label(key, f"the GT request on {second_device}")
        status[key] = GroupRun(official, out / key, device=second_device, progress=progress).run()
        floors.append(key)
    clip = ClipScorer(clip_model)
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": device, "second_device": second_device, "noise_floors": floors,
        "clip": {"available": clip.status.available, "reason": clip.status.reason},
        "generation_exit": status, "cases": {}}
    for case in official:
        ref = _frames(out / "reference", case)
        entry: dict[str, Any] = {}
        for name in (*NEGATIVE, *floors):
            other = _frames(out / name, case)
            entry[name] = score(ref, other, clip) if ref is not None and other is not None else None
        result["cases"][case.id] = entry
    write_json(out / "controls.json", encode_tree(result))
    return result
