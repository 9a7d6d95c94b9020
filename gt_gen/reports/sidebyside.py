"""Side-by-side PNG of a case: GT | candidate | abs-diff heatmap, one row per frame.

Cheap where nobody looks closely: a failing case gets every pixel (its diff is what a
reviewer inspects), a passing case a downscaled preview for the HTML report. At 1536x1024 the
full three-panel, three-row image is ~14 Mpx and took ~0.8 s to encode for every case,
passing ones included; a preview is about a ninth of the pixels. The preview shrinks each
panel by a whole factor (1/2, 1/3, ...: OpenCV's area averaging then has a fast path; 768 ->
512 took longer than encoding the PNG) to at most :data:`PREVIEW_PANEL_WIDTH` wide; a frame
whose sides are not multiples of that factor loses its last rows/columns (fewer than the
factor) in the preview, else OpenCV takes its slow fractional path (9.2 ms instead of 2.7 for
one 1536x1024 panel, nine panels per case). OpenCV's default PNG settings are already its
fastest lossless ones (level 1 with its own strategy: naming a level switches zlib to the
default strategy, which measured 1.5-2x slower), so they stay. (An uncompressed preview would
take ~1 ms instead of ~20, but at ~1.2 MB instead of ~0.7 in a report that embeds every
preview: not worth it.)
"""

from __future__ import annotations

import numpy as np

import cv2

#: A passing case's preview: each panel at most this wide (never enlarged). 256, not 512:
#: encoding the preview PNG was then the largest per-case cost left in a whole-video compare
#: of the 768x512 ltx shape on 2 cores (58 of ~420 CPU ms per case; a quarter of the pixels
#: now); a failing case still gets every pixel.
PREVIEW_PANEL_WIDTH = 256


def diff_heatmap(gt: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """|gt - cand| (max over channels), scaled x4, as a colour map (RGB uint8)."""
    c0, c1, c2 = cv2.split(cv2.absdiff(gt, cand))  # OpenCV: ~15x numpy's max over axis 2
    d = cv2.convertScaleAbs(cv2.max(cv2.max(c0, c1), c2), alpha=4)  # x4, saturated at 255
    return cv2.cvtColor(cv2.applyColorMap(d, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def preview_size(width: int, height: int) -> tuple[int, int]:
    """A passing case's panel size: the frame shrunk by the least whole factor that makes it
    at most :data:`PREVIEW_PANEL_WIDTH` wide (never enlarged)."""
    factor = -(-width // PREVIEW_PANEL_WIDTH)  # ceil
    return max(1, width // factor), max(1, height // factor)


def _shrink(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """``img`` shrunk to ``width`` x ``height`` by area averaging over whole k x k blocks (the
    rows and columns beyond the last whole block are left out: see the module docstring)."""
    if img.shape[1] == width and img.shape[0] == height:
        return img
    k = img.shape[1] // width
    return cv2.resize(img[:height * k, :width * k], (width, height), interpolation=cv2.INTER_AREA)


def compose(rows: list[tuple[np.ndarray, np.ndarray]], gap: int = 4,
            preview: bool = False) -> np.ndarray:
    """Stack rows of GT | candidate | heatmap into one RGB image.

    With ``preview`` frames wider than :data:`PREVIEW_PANEL_WIDTH` are shrunk (area
    averaging, :func:`preview_size`); the heatmap is computed at full resolution first, so a
    difference is never averaged away before it is measured."""
    out_rows = []
    for gt, cand in rows:
        heat = diff_heatmap(gt, cand)
        h, w = gt.shape[:2]
        if preview:
            w, h = preview_size(w, h)
            gt, cand, heat = (_shrink(x, w, h) for x in (gt, cand, heat))
        sep = np.full((h, gap, 3), 255, np.uint8)
        out_rows.append(np.concatenate([gt, sep, cand, sep, heat], axis=1))
    width = max(r.shape[1] for r in out_rows)
    padded = [np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in out_rows]
    return np.concatenate(padded, axis=0)


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG of an RGB image with OpenCV's default (fastest lossless) settings; GT
    key-frame PNGs are written by this too, so their bytes never depend on report tuning."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def case_png(rows: list[tuple[np.ndarray, np.ndarray]], *, full: bool) -> bytes:
    """The report image of one case: every pixel when ``full`` (a failing case), else a
    preview whose panels are at most :data:`PREVIEW_PANEL_WIDTH` wide (:func:`preview_size`)."""
    return encode_png(compose(rows, preview=not full))
