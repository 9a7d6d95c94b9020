"""Side-by-side PNG of a case: GT | candidate | abs-diff heatmap, one row per frame.

Cheap where nobody looks closely: a failing case gets every pixel (its diff is what a
reviewer inspects), a passing case a downscaled preview for the HTML report, both with fast
PNG compression. At 1536x1024 the full three-panel, three-row image is ~14 Mpx and took
~0.8 s to encode at the default level for every case, passing ones included; a preview
is a small fraction of that.
"""

from __future__ import annotations

import numpy as np

import cv2

#: A passing case's preview: each panel at most this wide (never enlarged).
PREVIEW_PANEL_WIDTH = 512
#: zlib level of report images: 1 is several times faster than OpenCV's default (3) on
#: frames like these, for a file a little larger. GT PNGs keep the default (see encode_png).
FAST_PNG_LEVEL = 1


def diff_heatmap(gt: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """|gt - cand| (max over channels), scaled x4, as a colour map (RGB uint8)."""
    d = cv2.absdiff(gt, cand).max(axis=2)
    d = cv2.convertScaleAbs(d, alpha=4)  # x4, saturated at 255
    return cv2.cvtColor(cv2.applyColorMap(d, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def _shrink(img: np.ndarray, width: int, height: int) -> np.ndarray:
    if img.shape[1] == width and img.shape[0] == height:
        return img
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def compose(rows: list[tuple[np.ndarray, np.ndarray]], gap: int = 4,
            max_panel_width: int | None = None) -> np.ndarray:
    """Stack rows of GT | candidate | heatmap into one RGB image.

    With ``max_panel_width`` wider frames are shrunk (area averaging) to that width; the
    heatmap is computed at full resolution first, so a difference is never averaged away
    before it is measured."""
    out_rows = []
    for gt, cand in rows:
        heat = diff_heatmap(gt, cand)
        h, w = gt.shape[:2]
        if max_panel_width is not None and w > max_panel_width:
            w, h = max_panel_width, max(1, round(h * max_panel_width / gt.shape[1]))
            gt, cand, heat = (_shrink(x, w, h) for x in (gt, cand, heat))
        sep = np.full((h, gap, 3), 255, np.uint8)
        out_rows.append(np.concatenate([gt, sep, cand, sep, heat], axis=1))
    width = max(r.shape[1] for r in out_rows)
    padded = [np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in out_rows]
    return np.concatenate(padded, axis=0)


def encode_png(rgb: np.ndarray, level: int | None = None) -> bytes:
    """Lossless PNG of an RGB image; ``level`` is zlib's (None: OpenCV's default, which GT
    PNGs keep so that their bytes do not change)."""
    params = [] if level is None else [cv2.IMWRITE_PNG_COMPRESSION, int(level)]
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def case_png(rows: list[tuple[np.ndarray, np.ndarray]], *, full: bool) -> bytes:
    """The report image of one case: every pixel when ``full`` (a failing case), else a
    preview whose panels are at most :data:`PREVIEW_PANEL_WIDTH` wide; fast compression."""
    img = compose(rows, max_panel_width=None if full else PREVIEW_PANEL_WIDTH)
    return encode_png(img, FAST_PNG_LEVEL)
