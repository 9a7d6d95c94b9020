"""The quality gate GT must pass before it is published.

Rejects: missing key frames; frames whose size is not the case's; near-blank, low-detail
frames (tiny spread *and* almost no edges — a black or grey frame from a broken decoder);
high-frequency noise (neighbouring pixels uncorrelated — a denoiser that never converged);
and frames that drifted far from the GT they would replace (SSIM below ``drift_ssim``),
unless drift is explicitly allowed. Tiny-profile cases are random-weight models whose output
is noise by construction: their noise check is recorded as skipped, never silently passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gt_gen.cases import Case
from gt_gen.errors import InputFileError
from gt_gen.frames import video_frame_count
from gt_gen.metrics.reference import ssim

BLANK_STD = 4.0
BLANK_EDGE = 2.0
NOISE_CORR = 0.2
DRIFT_SSIM = 0.5


@dataclass
class QualityReport:
    case_id: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def neighbour_correlation(frame: np.ndarray) -> float:
    """Mean correlation of horizontally and vertically adjacent pixels (grey)."""
    g = frame.astype(np.float64).mean(axis=2)
    vals = []
    for a, b in ((g[:, :-1], g[:, 1:]), (g[:-1, :], g[1:, :])):
        a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        vals.append(1.0 if den == 0 else float((a * b).sum() / den))
    return float(np.mean(vals))


def check_case(case: Case, frames: dict[str, np.ndarray], previous: dict[str, np.ndarray] | None,
               *, allow_drift: bool = False, video: Path | None = None) -> QualityReport:
    """Every rule above on one case; ``video`` (the GT mp4, when it is published too) must
    decode and hold exactly the case's frame count, or whole-video compares would misalign."""
    rep = QualityReport(case.id)
    if video is not None:
        try:
            n = video_frame_count(video)
        except InputFileError as exc:
            rep.problems.append(f"video {video.name} is unreadable ({exc.one_line()})")
        else:
            if n != case.request.num_frames:
                rep.problems.append(f"video {video.name} has {n} frames, the case asks for "
                                    f"{case.request.num_frames}")
    missing = [k for k in case.key_frames if k not in frames]
    if missing:
        rep.problems.append(f"missing key frames {missing}")
    for key, f in frames.items():
        h, w = f.shape[:2]
        if (w, h) != (case.request.width, case.request.height):
            rep.problems.append(f"frame {key} is {w}x{h}, the case asks for "
                                f"{case.request.width}x{case.request.height}")
            continue
        grey = f.astype(np.float64).mean(axis=2)
        edges = np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()
        if grey.std() < BLANK_STD and edges < BLANK_EDGE:
            rep.problems.append(f"frame {key} is near-blank (std {grey.std():.2f}, edges {edges:.2f})")
        corr = neighbour_correlation(f)
        if corr < NOISE_CORR:
            if case.model.is_tiny:
                rep.notes.append(f"frame {key}: noise check skipped (tiny random-weight model, "
                                 f"neighbour correlation {corr:.2f})")
            else:
                rep.problems.append(f"frame {key} looks like high-frequency noise (neighbour "
                                    f"correlation {corr:.2f} < {NOISE_CORR})")
        if previous is not None and key in previous and previous[key].shape == f.shape:
            s = ssim(previous[key], f)
            if s < DRIFT_SSIM:
                msg = f"frame {key} drifted from the GT it replaces (SSIM {s:.3f} < {DRIFT_SSIM})"
                (rep.notes if allow_drift else rep.problems).append(
                    msg + (" — allowed by --allow-drift" if allow_drift else "; pass --allow-drift if intended"))
    return rep
