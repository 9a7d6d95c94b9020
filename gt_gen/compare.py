"""The consistency gate: GT vs candidate, per case and frame, against the thresholds.

A case passes only if every key frame passes every evaluated gate (clip >=, ssim >=,
psnr >=, mean_abs_diff <=), as sglang does. Missing GT is a failure (``missing_gt``), GT
that could not be probed is ``unknown_gt`` (also a failure, never a pass), and an
unavailable CLIP model leaves the CLIP gate *not evaluated* (``None``), never passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gt_gen import frames as fr
from gt_gen.cases import Case
from gt_gen.errors import MissingFileError, UsageError
from gt_gen.metrics import compute_pair_metrics
from gt_gen.metrics.clip import ClipScorer
from gt_gen.naming import image_names, key_frame_names, video_name
from gt_gen.results import CaseResult, FrameResult
from gt_gen.store.integrity import Verifier
from gt_gen.store.lookup import locate
from gt_gen.store.source import Presence
from gt_gen.thresholds import HIGHER_IS_BETTER, METRICS, Thresholds, worst


@dataclass
class CompareOptions:
    """Knobs of a comparison run."""

    platform: str | None = None
    metrics_backend: str = "auto"
    device: str = "cpu"
    frames: str = "key"  # "key": key frames; "all": also every frame's curves
    gate_frames: str = "key"  # which frames the verdict uses
    require_clip: bool = False
    colour_matrix: str = "bt601"
    integrity: dict[str, str] = field(default_factory=dict)


def load_gt_frames(reader: Verifier, case: Case, platform: str | None
                   ) -> tuple[CaseResult | None, dict[str, np.ndarray], str | None, dict[str, str]]:
    """GT key frames of ``case``, read through ``reader`` (so checked against the manifest),
    or a CaseResult explaining why there are none."""
    source = reader.source
    found = locate(source, case, platform)
    if found.status is Presence.MISSING:
        return CaseResult(case.id, case.modality, "missing_gt",
                          f"no GT in {source.description}: {found.detail}"), {}, None, {}
    if found.status is Presence.UNKNOWN:
        return CaseResult(case.id, case.modality, "unknown_gt",
                          f"GT presence unknown in {source.description} ({found.detail}); "
                          "not treated as missing, not passed"), {}, None, {}
    assert found.files is not None
    out: dict[str, np.ndarray] = {}
    for key, rel in found.files.items():
        out[key] = fr.decode_image(reader.read(rel), rel)
    return None, out, found.folder, dict(found.files)


def find_candidate(candidate: Path, case: Case, single: bool) -> Path | None:
    """The candidate output of ``case`` under ``candidate`` (a dir or, for one case, a file)."""
    if candidate.is_file():
        if not single:
            raise UsageError("--candidate is a single file; select exactly one case with --case")
        return candidate
    if not candidate.is_dir():
        raise MissingFileError("candidate path not found", path=candidate)
    if case.modality == "video":
        for name in (video_name(case), f"{case.id}.mp4"):
            if (candidate / name).is_file():
                return candidate / name
        names = key_frame_names(case)
        if all((candidate / n).is_file() for n in names.values()):
            return candidate
        return None
    for name in [*image_names(case), f"{case.id}.png", f"{case.id}.jpg", f"{case.id}.webp"]:
        if (candidate / name).is_file():
            return candidate / name
    return None


def load_candidate_frames(path: Path, case: Case) -> dict[str, np.ndarray]:
    if path.is_dir():
        got = fr.read_key_frame_dir(path, key_frame_names(case))
        assert got is not None
        return got
    if case.modality == "video":
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
            raise UsageError(f"case {case.id} is a video: give an mp4 or a folder of key-frame "
                             "PNGs, not a single image")
        return fr.read_key_frames(path, case.key_frames)
    return {"first": fr.read_image(path)}


def evaluate_case(case: Case, gt: dict[str, np.ndarray], cand: dict[str, np.ndarray],
                  thresholds: Thresholds, opts: CompareOptions, clip: ClipScorer) -> CaseResult:
    """Metrics of every key frame and the verdict of every gate."""
    keys = [k for k in case.key_frames if k in gt]
    missing = [k for k in keys if k not in cand]
    if missing:
        return CaseResult(case.id, case.modality, "missing_candidate",
                          f"candidate lacks key frames {missing}")
    vals = compute_pair_metrics([gt[k] for k in keys], [cand[k] for k in keys],
                                backend=opts.metrics_backend, device=opts.device)
    gates = thresholds.gates(case.id, case.modality)
    res = CaseResult(case.id, case.modality, "passed")
    res.gates = {m: {"value": g.value, "source": g.source,
                     "direction": ">=" if HIGHER_IS_BETTER[m] else "<="} for m, g in gates.items()}
    res.clip = {"available": clip.status.available, "model": clip.status.model,
                "revision": clip.status.revision, "reason": clip.status.reason}
    all_ok = True
    for key, v in zip(keys, vals):
        metrics: dict[str, float | None] = dict(v)
        metrics["clip"] = clip.score(gt[key], cand[key])
        passed: dict[str, bool | None] = {}
        for m in METRICS:
            val = metrics.get(m)
            passed[m] = None if val is None else gates[m].passes(val)
            all_ok &= passed[m] is not False
        res.frames.append(FrameResult(frame=key, index=None, metrics=metrics, passed=passed))
    res.worst = {m: worst([f.metrics.get(m) for f in res.frames], m) for m in METRICS}
    failing = [f"{m} {w:.4g} {'<' if HIGHER_IS_BETTER[m] else '>'} {gates[m].value:g}"
               for m in METRICS if (w := res.worst[m]) is not None and not gates[m].passes(w)]
    if not all_ok:
        res.status = "failed"
        res.message = "gate failed: " + ", ".join(failing)
    elif not clip.status.available:
        if opts.require_clip:
            res.status = "error"
            res.message = f"CLIP gate not evaluated and --require-clip is set: {clip.status.reason}"
        else:
            res.message = "CLIP gate not evaluated (model unavailable)"
    return res


def all_frame_curves(gt_video: Path, cand_video: Path, opts: CompareOptions) -> dict[str, list[float | None]]:
    """Per-frame metric curves of two whole videos, both decoded by one decoder (PyAV) with
    the colour matrix ``opts.colour_matrix`` set explicitly."""
    from gt_gen.video_decode import decode_all

    g, _ = decode_all(gt_video, opts.colour_matrix)
    c, _ = decode_all(cand_video, opts.colour_matrix)
    if len(g) != len(c):
        from gt_gen.errors import InputFileError

        raise InputFileError(f"GT has {len(g)} frames but the candidate has {len(c)}",
                             path=cand_video)
    vals = compute_pair_metrics(g, c, backend=opts.metrics_backend, device=opts.device)
    return {m: [v[m] for v in vals] for m in ("ssim", "psnr", "mean_abs_diff")}


def gate_all_frames(res: CaseResult, thresholds: Thresholds, case: Case) -> None:
    """Apply the gates to every frame's curve (``--gate-frames all``)."""
    gates = thresholds.gates(case.id, case.modality)
    bad = []
    for m, curve in res.curves.items():
        for i, v in enumerate(curve):
            if v is not None and not gates[m].passes(v):
                bad.append(f"{m} frame {i} = {v:.4g}")
                break
    if bad and res.status == "passed":
        res.status = "failed"
        res.message = "whole-video gate failed: " + ", ".join(bad)


