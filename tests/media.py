"""A generated corpus of videos and images like the ones engines and ci-data hold.

Videos are encoded here with FFmpeg through PyAV (codecs, pixel formats, colour tags, odd
sizes, 1 frame, B-frames, 10-bit when the local libx264 can), images with PIL in every mode
sglang's reader accepts. Content is smooth moving colour with saturated patches (where
colour matrices and chroma filters disagree most), deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def moving_frames(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """``[n, h, w, 3]`` uint8: smooth gradients that move, plus saturated blocks."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ph = rng.uniform(0, 6.28, 3)
    out = []
    for t in range(n):
        chans = [127 + 110 * np.sin(x / (5 + 2 * c) + y / (7 + c) + ph[c] + 0.4 * t) for c in range(3)]
        f = np.clip(np.stack(chans, -1), 0, 255).astype(np.uint8)
        f[: h // 3, : w // 3] = (235, 20, 40)  # saturated red: BT.601 vs BT.709 differ here
        f[h // 2:, w // 2:, 2] = 230
        out.append(f)
    return np.stack(out)


@dataclass(frozen=True)
class VideoSpec:
    """One corpus video: what FFmpeg is asked to encode."""

    name: str
    n: int = 9
    h: int = 32
    w: int = 48
    pix_fmt: str = "yuv420p"
    codec: str = "libx264"
    colorspace: int | None = None  # FFmpeg AVColorSpace: 1 = BT.709, 5 = BT.470BG, 9 = BT.2020
    color_range: int | None = None  # 1 = limited (tv), 2 = full (pc)
    options: dict[str, str] = field(default_factory=lambda: {"crf": "20"})
    seed: int = 0


def encode(path: Path, spec: VideoSpec, frames: np.ndarray | None = None) -> Path:
    """Encode ``frames`` (default: :func:`moving_frames` of the spec) as ``spec`` says."""
    import av

    frames = moving_frames(spec.n, spec.h, spec.w, spec.seed) if frames is None else frames
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(spec.codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], spec.pix_fmt
        stream.options = dict(spec.options)
        if spec.colorspace is not None:
            stream.codec_context.colorspace = spec.colorspace
        if spec.color_range is not None:
            stream.codec_context.color_range = spec.color_range
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            if spec.colorspace is not None:
                vf.colorspace = spec.colorspace
            for pkt in stream.encode(vf):
                container.mux(pkt)
        for pkt in stream.encode():
            container.mux(pkt)
    return path


def can_encode(pix_fmt: str, codec: str = "libx264") -> bool:
    """Whether the local FFmpeg can encode ``pix_fmt`` (10-bit x264 is a build option)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gt-gen-probe-") as tmp:
        try:
            encode(Path(tmp) / "p.mp4", VideoSpec("p", n=1, h=16, w=16, pix_fmt=pix_fmt, codec=codec))
            return True
        except Exception:  # noqa: BLE001 - any encoder refusal means "cannot"
            return False


def video_corpus() -> list[VideoSpec]:
    """Codecs, pixel formats, colour tags, odd sizes, 1 frame, B-frames, GOPs."""
    specs = [
        VideoSpec("h264_420"),
        VideoSpec("h264_444", pix_fmt="yuv444p"),
        VideoSpec("h264_422", pix_fmt="yuv422p", seed=1),
        VideoSpec("bt709_tag", colorspace=1, color_range=1, seed=2),
        VideoSpec("bt601_tag", colorspace=5, color_range=1, seed=3),
        VideoSpec("bt2020_tag", colorspace=9, color_range=1, seed=4),
        VideoSpec("full_range", pix_fmt="yuvj420p", seed=5),
        VideoSpec("odd_444", h=33, w=47, pix_fmt="yuv444p", seed=6),
        VideoSpec("odd_tall", h=71, w=9, pix_fmt="yuv444p", seed=7),
        VideoSpec("one_frame", n=1, seed=8),
        VideoSpec("two_frames", n=2, seed=9),
        VideoSpec("bframes_gop", n=40, options={"crf": "26", "g": "8", "bf": "3"}, seed=10),
        VideoSpec("lossless", options={"crf": "0"}, seed=11),
        VideoSpec("mpeg4", codec="mpeg4", options={"qscale": "4"}, seed=12),
    ]
    if can_encode("yuv420p10le"):
        specs += [VideoSpec("h264_10bit", pix_fmt="yuv420p10le", seed=13),
                  VideoSpec("bt709_10bit", pix_fmt="yuv420p10le", colorspace=1, color_range=1, seed=14)]
    return specs


def image_modes(rgb: np.ndarray) -> dict[str, object]:
    """The same picture as a PIL image in every mode sglang's ``convert("RGB")`` accepts."""
    from PIL import Image

    base = Image.fromarray(rgb)
    ramp = (np.arange(rgb.shape[1]) * 7 % 256).astype(np.uint8)[None].repeat(rgb.shape[0], 0)
    alpha = Image.fromarray(ramp)
    rgba = base.copy()
    rgba.putalpha(alpha)
    la = base.convert("L")
    la.putalpha(alpha)
    pal = base.quantize(32)
    pal.info["transparency"] = 3
    i16 = Image.fromarray(rgb[..., 1].astype(np.uint16) * 257)
    return {"RGB": base, "RGBA": rgba, "LA": la, "L": base.convert("L"), "P": pal,
            "I;16": i16, "CMYK": base.convert("CMYK")}
