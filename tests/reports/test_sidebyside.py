"""Side-by-side image: GT | candidate | heatmap per row; the heatmap is dark where frames agree."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.reports.sidebyside import (PREVIEW_PANEL_WIDTH, case_png, compose, diff_heatmap, encode_png,
                                       preview_size)
from tests.conftest import pattern_frames


def test_heatmap_dark_where_equal_bright_where_not() -> None:
    a = pattern_frames(1, 32, 48)[0]
    b = a.copy()
    b[:, 24:] = 255 - b[:, 24:]
    h = diff_heatmap(a, b)
    assert h.shape == a.shape and h.dtype == np.uint8
    assert h[:, :24].max() < 10 < h[:, 24:].mean()


def test_compose_layout_and_png_round_trip() -> None:
    f = pattern_frames(2, 32, 48)
    img = compose([(f[0], f[1]), (f[1], f[1])], gap=4)
    assert img.shape == (2 * (32 + 4), 3 * 48 + 2 * 4, 3)
    assert (img[:32, :48] == f[0]).all() and (img[:32, 52:100] == f[1]).all()
    back = cv2.cvtColor(cv2.imdecode(np.frombuffer(encode_png(img), np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)
    assert (back == img).all()


def _decode(png: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_heatmap_is_the_scaled_channel_max_of_the_abs_diff(h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(2))
    d = np.clip(np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) * 4, 0, 255).astype(np.uint8)
    want = cv2.cvtColor(cv2.applyColorMap(d, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    assert (diff_heatmap(a, b) == want).all()


@pytest.mark.parametrize("w,h", [(48, 32), (PREVIEW_PANEL_WIDTH, 40), (PREVIEW_PANEL_WIDTH + 1, 30),
                                 (768, 512), (1536, 1024), (1920, 1088), (1280, 721), (769, 514)])
def test_failing_case_gets_every_pixel_passing_case_a_preview(w: int, h: int) -> None:
    y, x = np.mgrid[0:h, 0:w]
    f = [np.stack([(x + y + 40 * c) % 256 for c in range(3)], -1).astype(np.uint8) for _ in range(2)]
    f[1] = 255 - f[1]
    rows = [(f[0], f[1]), (f[1], f[0])]
    full = _decode(case_png(rows, full=True))
    assert (full == compose(rows)).all()  # lossless, full resolution
    preview = _decode(case_png(rows, full=False))
    pw, ph = preview_size(w, h)
    assert preview.shape[1] == 3 * pw + 2 * 4  # never enlarged, shrunk to the preview width
    assert preview.shape[0] == 2 * (ph + 4)
    if w <= PREVIEW_PANEL_WIDTH:
        assert (preview == full).all()
    else:
        # shrunk by a whole factor: each preview pixel is the mean of a k x k block (sides that
        # are not multiples of k lose their last rows/columns, never averaged fractionally)
        k = -(-w // PREVIEW_PANEL_WIDTH)
        block = f[0][:k * ph, :k * pw].reshape(ph, k, pw, k, 3).mean(axis=(1, 3))
        assert np.abs(preview[:ph, :pw].astype(float) - block).max() <= 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4000), st.integers(1, 3000))
def test_preview_size_is_a_whole_factor_never_wider_than_the_limit(w: int, h: int) -> None:
    pw, ph = preview_size(w, h)
    k = -(-w // PREVIEW_PANEL_WIDTH)
    assert 1 <= pw <= min(w, PREVIEW_PANEL_WIDTH) and (pw, ph) == (max(1, w // k), max(1, h // k))
    assert (k == 1) == (pw == w)


def test_preview_is_cheaper_to_make_than_the_frame_sized_image() -> None:
    """The preview's pixels: at most a quarter of a failing case's at 768x512 and beyond."""
    for w, h in ((768, 512), (1536, 1024), (1920, 1088)):
        pw, ph = preview_size(w, h)
        assert pw * ph <= w * h / 4


def test_preview_keeps_a_one_pixel_difference_visible() -> None:
    """The heatmap is measured at full resolution, then shrunk: a lone bad pixel still shows."""
    a = np.full((1024, 1536, 3), 128, np.uint8)
    b = a.copy()
    b[500:502, 700:702] = 0  # 2x2 px off by 128 levels
    heat = _decode(case_png([(a, b)], full=False))[:, 2 * (PREVIEW_PANEL_WIDTH + 4):]
    dark = _decode(case_png([(a, a)], full=False))[:, 2 * (PREVIEW_PANEL_WIDTH + 4):]
    assert int(np.abs(heat.astype(int) - dark).max()) > 20


@pytest.mark.parametrize("w,h", [(1536, 1024), (769, 514), (300, 7)])
def test_preview_heatmap_shows_each_blocks_worst_difference(w: int, h: int) -> None:
    """A lone pixel 10 levels off keeps its full colour in the preview (the mean of a block of
    colours left it near the no-difference colour); every heat pixel is the colour of its
    block's largest difference, at sizes that are not multiples of the factor too."""
    rng = np.random.default_rng(w)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    b = a.copy()
    b[h // 2, w // 3, 1] = np.uint8(int(a[h // 2, w // 3, 1]) + (10 if a[h // 2, w // 3, 1] < 128 else -10))
    pw, ph = preview_size(w, h)
    k = -(-w // PREVIEW_PANEL_WIDTH)
    heat = _decode(case_png([(a, b)], full=False))[:ph, 2 * (pw + 4):]
    level = np.clip(np.abs(a.astype(int) - b.astype(int)).max(axis=2) * 4, 0, 255).astype(np.uint8)
    want = cv2.cvtColor(cv2.applyColorMap(level[:k * ph, :k * pw].reshape(ph, k, pw, k).max(axis=(1, 3)),
                                          cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    assert (heat == want).all()
    spot = (h // 2 // k, w // 3 // k)
    if spot[0] < ph and spot[1] < pw:
        assert (heat[spot] == diff_heatmap(a, b)[h // 2, w // 3]).all()  # the lone pixel's own colour
        assert int(np.abs(heat[spot].astype(int) - heat[0, 0]).max()) > 20


def test_gt_pngs_keep_the_default_encoding() -> None:
    """GT key-frame PNGs (generate) are hashed in manifests: their bytes stay OpenCV's default."""
    img = pattern_frames(1, 40, 56)[0]
    default = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes()
    assert encode_png(img) == default
    assert (_decode(case_png([(img, img)], full=True))[:40, :56] == img).all()

