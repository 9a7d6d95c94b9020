"""The consistency gate: GT vs candidate, per case and frame, against the thresholds.

A case passes only if every key frame passes every evaluated gate (clip >=, ssim >=,
psnr >=, mean_abs_diff <=), as sglang does. Missing GT is a failure (``missing_gt``), GT
that could not be probed is ``unknown_gt`` (also a failure, never a pass), and an
unavailable CLIP model leaves the CLIP gate *not evaluated* (``None``), never passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gt_gen import frames as fr
from gt_gen.cases import Case
from gt_gen.errors import InputFileError, MissingFileError, UsageError
from gt_gen.metrics import check_pair, compute_pair_metrics
from gt_gen.metrics.clip import ClipScorer
from gt_gen.naming import candidate_image_names, key_frame_names, video_name
from gt_gen.results import CaseResult, FrameResult
from gt_gen.store.integrity import GtUnknownError, ManifestMissingError, Verifier
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
    colour_matrix: str = "auto"  # the whole-video decoder follows each stream's tag, as OpenCV
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
    try:  # every file verified before any is decoded: tampering is never a decode failure
        blobs = {key: reader.read(rel) for key, rel in found.files.items()}
    except GtUnknownError as exc:
        return CaseResult(case.id, case.modality, "unknown_gt",
                          f"GT in {source.description} cannot be verified: {exc.one_line()}; "
                          "not treated as missing, not passed"), {}, None, {}
    except ManifestMissingError as exc:
        return CaseResult(case.id, case.modality, "error", exc.one_line()), {}, None, {}
    out = fr.FrameSet(sources=dict(found.files))
    for key, data in blobs.items():  # PIL + convert("RGB"), as sglang reads GT images
        out[key], out.modes[key] = fr.decode_image_with_mode(data, found.files[key])
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
    for name in [*candidate_image_names(case), f"{case.id}.png", f"{case.id}.jpg", f"{case.id}.webp"]:
        if (candidate / name).is_file():
            return candidate / name
    return None


def load_candidate_frames(path: Path, case: Case) -> fr.FrameSet:
    """The candidate's key frames: from an mp4 as sglang reads them (OpenCV seek), from a
    folder of key-frame PNGs or from one image (PIL, ``.convert("RGB")``)."""
    if path.is_dir():
        got = fr.read_key_frame_dir(path, key_frame_names(case))
        assert got is not None
        return got
    if case.modality == "video":
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
            raise UsageError(f"case {case.id} is a video: give an mp4 or a folder of key-frame "
                             "PNGs, not a single image")
        return fr.read_key_frames(path, case.key_frames)
    img, mode = fr.read_image_with_mode(path)
    return fr.FrameSet({"first": img}, sources={"first": str(path)}, modes={"first": mode})


def _where(frames: dict[str, np.ndarray], key: str) -> str:
    return getattr(frames, "sources", {}).get(key, "?")


def _pair_metrics(case: Case, keys: list[str], gt: dict[str, np.ndarray],
                  cand: dict[str, np.ndarray], opts: CompareOptions,
                  gates: dict[str, float | None]) -> list[dict[str, float]]:
    """The metrics of each key frame pair; a pair that cannot be compared (sizes differ,
    smaller than SSIM's window) is one line naming the case, the frame and both files."""
    for k in keys:
        try:
            check_pair(gt[k], cand[k])
        except InputFileError as exc:
            raise type(exc)(f"case {case.id}, key frame {k} (GT {_where(gt, k)}, candidate "
                            f"{_where(cand, k)}): {exc}", case_id=case.id) from exc
    return compute_pair_metrics([gt[k] for k in keys], [cand[k] for k in keys],
                                backend=opts.metrics_backend, device=opts.device, gates=gates)


def evaluate_case(case: Case, gt: dict[str, np.ndarray], cand: dict[str, np.ndarray],
                  thresholds: Thresholds, opts: CompareOptions, clip: ClipScorer) -> CaseResult:
    """Metrics of every key frame and the verdict of every gate."""
    keys = [k for k in case.key_frames if k in gt]
    missing = [k for k in keys if k not in cand]
    if missing:
        return CaseResult(case.id, case.modality, "missing_candidate",
                          f"candidate lacks key frames {missing}")
    gates = thresholds.gates(case.id, case.modality)
    vals = _pair_metrics(case, keys, gt, cand, opts, {m: g.value for m, g in gates.items()})
    res = CaseResult(case.id, case.modality, "passed")
    res.gt_image_mode = gt.mode_summary() if isinstance(gt, fr.FrameSet) else None
    res.candidate_image_mode = cand.mode_summary() if isinstance(cand, fr.FrameSet) else None
    cand_index = cand.indices if isinstance(cand, fr.FrameSet) else {}
    res.gates = {m: {"value": g.value, "source": g.source,
                     "direction": ">=" if HIGHER_IS_BETTER[m] else "<="} for m, g in gates.items()}
    res.clip = {"available": clip.status.available, "model": clip.status.model,
                "revision": clip.status.revision, "reason": clip.status.reason,
                "disabled": clip.status.disabled}
    all_ok = True
    for key, v in zip(keys, vals):
        metrics: dict[str, float | None] = dict(v)
        metrics["clip"] = clip.score(gt[key], cand[key])
        passed: dict[str, bool | None] = {}
        for m in METRICS:
            val = metrics.get(m)
            passed[m] = None if val is None else gates[m].passes(val)
            all_ok &= passed[m] is not False
        res.frames.append(FrameResult(frame=key, index=cand_index.get(key), metrics=metrics,
                                      passed=passed))
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
            res.message = clip.status.note  # "disabled" when the user turned CLIP off
    return res


def all_frame_curves(res: CaseResult, gt_video: bytes | Path, cand_video: Path,
                     opts: CompareOptions, *, gt_where: str,
                     gt_keys: dict[str, np.ndarray] | None = None,
                     cand_keys: dict[str, np.ndarray] | None = None,
                     gates: dict[str, float | None] | None = None) -> None:
    """Per-frame metric curves of two whole videos (``--frames all``) into ``res.curves``,
    and into ``res.whole_video`` what they cover and whether they agree with the key frames.

    Both videos are decoded as OpenCV decodes them (:mod:`gt_gen.video_decode`), so at each
    key index the curve *is* the key-frame metric; where it cannot be (frame counts differ,
    a forced colour matrix, GT key-frame files that are not this mp4's frames), the entry of
    that key frame in ``res.whole_video["key_frames"]`` says why. A frame-count mismatch
    never aborts the run: the curves cover the common prefix and the key-frame verdict
    stands."""
    from gt_gen.video_decode import decode_all

    g = decode_all(gt_video, opts.colour_matrix, where=gt_where)
    c = decode_all(cand_video, opts.colour_matrix, where=cand_video)
    n = min(len(g.frames), len(c.frames))
    notes: list[str] = []
    if len(g.frames) != len(c.frames):
        notes.append(f"GT has {len(g.frames)} frames but the candidate has {len(c.frames)}: "
                     f"curves cover the first {n}; the key-frame verdict is unaffected")
    if g.frames[0].shape != c.frames[0].shape:
        gh, gw = g.frames[0].shape[:2]
        ch, cw = c.frames[0].shape[:2]
        notes.append(f"GT video is {gw}x{gh} but the candidate video is {cw}x{ch}: no curves")
        n = 0
    if n and min(g.frames[0].shape[:2]) < 7:
        notes.append("frames are smaller than SSIM's 7x7 window: no curves")
        n = 0
    vals = (compute_pair_metrics(g.frames[:n], c.frames[:n], backend=opts.metrics_backend,
                                 device=opts.device, gates=gates) if n else [])
    res.curves = {m: [v[m] for v in vals] for m in ("ssim", "psnr", "mean_abs_diff")} if n else {}
    info: dict[str, Any] = {
        "decoder": "pyav, bgr24 with the bicubic scaler (OpenCV's conversion), then rgb",
        "colour_matrix": opts.colour_matrix,
        "gt": {"file": gt_where, "frames": len(g.frames), "tag": g.tag, "matrix": g.matrix},
        "candidate": {"file": str(cand_video), "frames": len(c.frames), "tag": c.tag,
                      "matrix": c.matrix},
        "compared_frames": n, "notes": notes,
        "key_frames": _key_frame_agreement(res, g.frames, c.frames, n, opts, gt_keys, cand_keys,
                                           (g.tag, c.tag))}
    res.whole_video = info
    if notes:
        res.message = (res.message + "; " if res.message else "") + "whole video: " + "; ".join(notes)


def _key_frame_agreement(res: CaseResult, g: list[np.ndarray], c: list[np.ndarray], n: int,
                         opts: CompareOptions, gt_keys: dict[str, np.ndarray] | None,
                         cand_keys: dict[str, np.ndarray] | None,
                         tags: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """For each key frame: its index in both videos and whether the curve there equals the
    key-frame metric (and if not, why)."""
    from gt_gen.frames import key_frame_indices

    g_idx = key_frame_indices(len(g), tuple(f.frame for f in res.frames))
    c_idx = getattr(cand_keys, "indices", {}) or key_frame_indices(len(c), tuple(g_idx))
    from gt_gen.video_decode import matrix_of_tag

    forced = opts.colour_matrix != "auto" and any(matrix_of_tag(t) != opts.colour_matrix
                                                  for t in tags)
    out: dict[str, dict[str, Any]] = {}
    for f in res.frames:
        gi, ci = g_idx.get(f.frame), c_idx.get(f.frame)
        why: list[str] = []
        if gi != ci:
            why.append(f"the key frame is GT frame {gi} but candidate frame {ci} (frame counts "
                       "differ), while the curve pairs equal indices")
        elif gi is None or gi >= n:
            why.append(f"frame {gi} is beyond the {n} compared frames")
        else:
            for side, frames, keys in (("GT", g, gt_keys), ("candidate", c, cand_keys)):
                if keys is not None and f.frame in keys and not np.array_equal(frames[gi], keys[f.frame]):
                    diff = int(np.abs(frames[gi].astype(np.int16) - keys[f.frame]).max())
                    src = getattr(keys, "sources", {}).get(f.frame, "its key-frame file")
                    why.append(f"{side} frame {gi} of the mp4 differs from {src} by up to {diff} "
                               "levels" + (f" (--colour-matrix {opts.colour_matrix} overrides "
                                           f"the stream's {'/'.join(sorted(set(tags)))} tag, "
                                           "which OpenCV follows)" if forced else
                                           " (the key-frame file is not this mp4's frame as "
                                           "OpenCV decodes it)"))
            if not why and res.curves:
                deltas = {m: abs(res.curves[m][gi] - f.metrics[m])  # type: ignore[operator]
                          for m in res.curves if f.metrics.get(m) is not None
                          and res.curves[m][gi] != f.metrics[m]}
                if deltas:
                    why.append(f"metrics differ by {deltas} on identical pixels")
        out[f.frame] = {"gt_index": gi, "candidate_index": ci,
                        "curve_equals_key_frame": not why, "why_not": "; ".join(why) or None}
    return out


def gate_all_frames(res: CaseResult, thresholds: Thresholds, case: Case) -> None:
    """Apply the gates to every frame's curve (``--gate-frames all``). Frames one video has
    and the other lacks cannot pass a gate on every frame: a frame-count mismatch fails."""
    gates = thresholds.gates(case.id, case.modality)
    bad = []
    wv = res.whole_video
    if wv and wv["gt"]["frames"] != wv["candidate"]["frames"]:
        bad.append(f"GT has {wv['gt']['frames']} frames but the candidate has "
                   f"{wv['candidate']['frames']}")
    elif wv and not res.curves:
        bad.append("no per-frame curves (" + "; ".join(wv.get("notes", [])) + ")")
    for m, curve in res.curves.items():
        for i, v in enumerate(curve):
            if v is not None and not gates[m].passes(v):
                bad.append(f"{m} frame {i} = {v:.4g}")
                break
    if bad and res.status == "passed":
        res.status = "failed"
        res.message = "whole-video gate failed: " + ", ".join(bad)


