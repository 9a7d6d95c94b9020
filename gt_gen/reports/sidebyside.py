"""Side-by-side PNG of a failing case: GT | candidate | abs-diff heatmap, one row per frame."""

from __future__ import annotations

import numpy as np

import cv2


def diff_heatmap(gt: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """|gt - cand| (max over channels), scaled x4, as a colour map (RGB uint8)."""
    d = np.abs(gt.astype(np.int16) - cand.astype(np.int16)).max(axis=2)
    d = np.clip(d * 4, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(d, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def compose(rows: list[tuple[np.ndarray, np.ndarray]], gap: int = 4) -> np.ndarray:
    """Stack rows of GT | candidate | heatmap into one RGB image."""
    out_rows = []
    for gt, cand in rows:
        h = gt.shape[0]
        sep = np.full((h, gap, 3), 255, np.uint8)
        out_rows.append(np.concatenate([gt, sep, cand, sep, diff_heatmap(gt, cand)], axis=1))
    width = max(r.shape[1] for r in out_rows)
    padded = [np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in out_rows]
    return np.concatenate(padded, axis=0)


def encode_png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
