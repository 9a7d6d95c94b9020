"""Side-by-side image: GT | candidate | heatmap per row; the heatmap is dark where frames agree."""

from __future__ import annotations

import cv2
import numpy as np

from gt_gen.reports.sidebyside import compose, diff_heatmap, encode_png
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
