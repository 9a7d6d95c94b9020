"""Input images of a diffusers case: pinned bytes in, PIL images and sglang's output size out.

Why sglang's rules and not ours: sglang's official GT script (ci-data-diffusion
``repro_scripts/gen_official_diffusion_gt.py``) loads every input with PIL, as RGBA where the
pipeline is Qwen-Image-Layered or the file has an alpha channel or transparency, else as RGB;
and where the request gives no output size it derives one from the *last* input image
(Qwen-Image edit: the 1024x1024-area size at the image's aspect ratio; FLUX: the image scaled
down to at most 1024x1024 and to multiples of 16, the inputs resized with it). The GT is only
comparable if gt-gen feeds the pipeline the same pixels and size. Bytes are verified against
the case's sha256 before use; an input known only by sglang's URL is read from its copy
pinned in the assets lock (``gt-gen assets pin``, :mod:`gt_gen.assets`), re-hashed, and fails
closed with the fix named while it is not pinned.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from gt_gen.cases import Case
from gt_gen.errors import ConfigError
from gt_gen.generate.backends.diffusers.spec import SIZE_MULTIPLE, InputImage
from gt_gen.names import inside


def image_path(case: Case, img: InputImage) -> Path:
    """Where a pinned input lives: relative to the case file, inside its folder."""
    return inside(Path(case.source).parent, img.path, kind="input image", where=case.source)


def read_pinned(case: Case, img: InputImage) -> bytes:
    """The input's bytes, checked against its pin: the case's own sha256, or for an image
    known by sglang's URL the assets lock's (gt_gen.assets.resolve; fails closed if unpinned)."""
    from gt_gen.assets.resolve import local_input

    return local_input(case, url=img.url, path=img.path, sha256=img.sha256).data


def load_images(case: Case) -> tuple[list[Any], list[dict[str, Any]]]:
    """PIL images as the pipeline gets them, and their manifest record."""
    import io

    from PIL import Image

    images, record = [], []
    layered = case.pipeline == "QwenImageLayeredPipeline"
    for img in case.request.family.images:
        data = read_pinned(case, img)
        pil = Image.open(io.BytesIO(data))
        pil.load()
        if case.request.family.family == "flux2" and min(pil.size) < 64:
            raise ConfigError(f"case {case.id}: input image {img.path} is {pil.size[0]}x"
                              f"{pil.size[1]}; FLUX.2 refuses inputs under 64 px a side",
                              path=case.source)
        alpha = pil.mode in ("RGBA", "LA") or "transparency" in pil.info
        mode = "RGBA" if layered or img.mode == "RGBA" or alpha else "RGB"
        images.append(pil.convert(mode))
        record.append({"path": img.path or _pinned_file(case, img), "url": img.url,
                       "sha256": hashlib.sha256(data).hexdigest(), "mode": mode,
                       "size": list(pil.size)})
    return images, record


def _pinned_file(case: Case, img: InputImage) -> str:
    """The assets-lock file that stands for a URL-only input (for the manifest)."""
    pin = case.input_pins.get(img.url)
    return f"assets/{pin.file}" if pin is not None else ""


def qwen_edit_size(image: Any, area: int) -> tuple[int, int]:
    """Qwen-Image edit: the ``area`` size at the image's aspect ratio (diffusers' own rule)."""
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import calculate_dimensions

    w, h = calculate_dimensions(area, image.size[0] / image.size[1])
    return w // SIZE_MULTIPLE * SIZE_MULTIPLE, h // SIZE_MULTIPLE * SIZE_MULTIPLE


def flux_size(image: Any, area: int) -> tuple[int, int] | None:
    """FLUX: scaled down to at most ``area`` pixels, multiples of 16; None if unchanged."""
    w, h = image.size
    if w * h > area:
        scale = math.sqrt(area / (w * h))
        w, h = int(w * scale), int(h * scale)
    w, h = w // SIZE_MULTIPLE * SIZE_MULTIPLE, h // SIZE_MULTIPLE * SIZE_MULTIPLE
    return None if (w, h) == tuple(image.size) else (w, h)


def sglang_size(case: Case, images: list[Any]) -> tuple[list[Any], tuple[int, int] | None]:
    """(inputs as the pipeline gets them, output size or None for the pipeline's default) for a
    ``size_from_input`` case; the request's width x height is the target area."""
    from PIL import Image

    area = case.request.width * case.request.height
    if case.request.family.family == "flux2":
        size = flux_size(images[-1], area)
        out = []
        for im in images:
            target = flux_size(im, area)
            out.append(im.resize(target, Image.Resampling.LANCZOS) if target else im)
        return out, size
    return images, qwen_edit_size(images[-1], area)
