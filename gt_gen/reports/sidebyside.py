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
default strategy, which measured 1.5-2x slower); GT key frames keep them. Report images are
encoded with ISA-L's deflate instead (:func:`case_png`), ~3x faster at a similar size. (An
uncompressed preview would take ~1 ms, but at ~1.2 MB instead of ~0.7 in a report that embeds
every preview: not worth it.)
"""

from __future__ import annotations

import numpy as np

import cv2

#: A passing case's preview: each panel at most this wide (never enlarged). 256, not 512:
#: encoding the preview PNG was then the largest per-case cost left in a whole-video compare
#: of the 768x512 ltx shape on 2 cores (58 of ~420 CPU ms per case; a quarter of the pixels
#: now); a failing case still gets every pixel.
PREVIEW_PANEL_WIDTH = 256


def diff_level(gt: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """|gt - cand| (max over channels), scaled x4 and saturated at 255: uint8 HxW."""
    c0, c1, c2 = cv2.split(cv2.absdiff(gt, cand))  # OpenCV: ~15x numpy's max over axis 2
    return cv2.convertScaleAbs(cv2.max(cv2.max(c0, c1), c2), alpha=4)


def _colour(level: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def diff_heatmap(gt: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """:func:`diff_level` as a colour map (RGB uint8)."""
    return _colour(diff_level(gt, cand))


def _block_max(level: np.ndarray, width: int, height: int) -> np.ndarray:
    """``level`` shrunk to ``width`` x ``height``, each pixel the *largest* of its k x k block
    (the same whole blocks as :func:`_shrink`): the preview's heatmap shows the worst
    difference of every block, so a single bad pixel keeps its full colour."""
    if level.shape[1] == width and level.shape[0] == height:
        return level
    v, k = _whole_blocks(level, width, height)
    rows = v[0::k].copy()  # strided maxima, not max(axis=...) over a reshape: ~8x faster
    for i in range(1, k):
        np.maximum(rows, v[i::k], out=rows)
    out = rows[:, 0::k].copy()
    for i in range(1, k):
        np.maximum(out, rows[:, i::k], out=out)
    return out


def preview_size(width: int, height: int) -> tuple[int, int]:
    """A passing case's panel size: the frame shrunk by the least whole factor that makes it
    at most :data:`PREVIEW_PANEL_WIDTH` wide (never enlarged)."""
    factor = -(-width // PREVIEW_PANEL_WIDTH)  # ceil
    return max(1, width // factor), max(1, height // factor)


def _whole_blocks(img: np.ndarray, width: int, height: int) -> tuple[np.ndarray, int]:
    """The part of ``img`` that ``width`` x ``height`` whole k x k blocks cover, and k (the
    rows and columns beyond the last whole block are left out: see the module docstring)."""
    k = img.shape[1] // width
    return img[:height * k, :width * k], k


def _shrink(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """``img`` shrunk to ``width`` x ``height`` by area averaging over whole k x k blocks."""
    if img.shape[1] == width and img.shape[0] == height:
        return img
    return cv2.resize(_whole_blocks(img, width, height)[0], (width, height), interpolation=cv2.INTER_AREA)


def compose(rows: list[tuple[np.ndarray, np.ndarray]], gap: int = 4,
            preview: bool = False) -> np.ndarray:
    """Stack rows of GT | candidate | heatmap into one RGB image.

    With ``preview`` frames wider than :data:`PREVIEW_PANEL_WIDTH` are shrunk (:func:`preview_size`):
    GT and candidate by area averaging, the heatmap by the largest difference of each block
    (measured at full resolution, then :func:`_block_max`), so a difference is never averaged
    away: a lone pixel 10 levels off shows in its full colour, where the mean of a 6 x 6 block
    of colours left it indistinguishable from none. Colouring the shrunk levels (not shrinking
    colours) also keeps every heatmap pixel on the colour scale, and colours a ninth of the
    pixels (at 1536 x 1024: ~8 ms instead of ~32 per case's three rows)."""
    out_rows = []
    for gt, cand in rows:
        h, w = gt.shape[:2]
        if preview:
            w, h = preview_size(w, h)
            heat = _colour(_block_max(diff_level(gt, cand), w, h))
            gt, cand = (_shrink(x, w, h) for x in (gt, cand))
        else:
            heat = diff_heatmap(gt, cand)
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
    preview whose panels are at most :data:`PREVIEW_PANEL_WIDTH` wide (:func:`preview_size`).
    Encoded by :func:`gt_gen.png_rgb8.encode` (ISA-L's deflate: ~4 ms for a 768x512 case's
    preview against ~14 with OpenCV's encoder, at a similar size), not :func:`encode_png`:
    a report image's bytes are nobody's reference."""
    from gt_gen import png_rgb8

    return png_rgb8.encode(compose(rows, preview=not full))
