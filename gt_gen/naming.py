"""File names of GT and candidate outputs, in sglang's ci-data naming.

Video key frames: ``{case}_{n}gpu_frame_{0|mid|last}.png``; images: ``{case}_{n}gpu.{ext}``;
videos: ``{case}_{n}gpu.mp4``. ``n`` is the case's GPU count, used as a name only.

Which image GT file: sglang's ``get_consistency_gt_candidates`` (``python/sglang/
multimodal_gen/test/test_utils.py``) tries the extension of the request's output format
first and then ``png``, ``jpg``, ``webp``; with no output format set (its CI cases) the
preferred one is ``jpg``, so a folder holding a case as ``.png`` *and* ``.jpg`` is read as
the ``.jpg``. It never looks for ``.jpeg`` (the output format ``jpeg`` maps to ``.jpg``), so
neither does the GT lookup: a ``.jpeg``-only GT is missing for sglang and for gt-gen alike.
"""

from __future__ import annotations

import re

from gt_gen.cases import Case, validate_case_id
from gt_gen.errors import ConfigError

KEY_FRAME_SUFFIX = {"first": "0", "mid": "mid", "last": "last"}
#: Every image extension gt-gen reads or writes (candidates may also be ``.jpeg``).
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")
#: sglang's GT image lookup order with no output format set.
GT_IMAGE_EXTS = (".jpg", ".png", ".webp")
#: What gt-gen itself writes for an image GT (lossless).
OUTPUT_IMAGE_EXT = ".png"


def stem(case: Case) -> str:
    """``{case}_{n}gpu``."""
    validate_case_id(case.id)
    return f"{case.id}_{case.gpus}gpu"


def key_frame_name(case: Case, key: str) -> str:
    """``{case}_{n}gpu_frame_{0|mid|last}.png``."""
    return f"{stem(case)}_frame_{KEY_FRAME_SUFFIX[key]}.png"


def key_frame_names(case: Case) -> dict[str, str]:
    """Key frame -> file name, for every key frame of the case."""
    return {k: key_frame_name(case, k) for k in case.key_frames}


def video_name(case: Case) -> str:
    return f"{stem(case)}.mp4"


def gt_image_ext_order(output_format: str | None = None) -> tuple[str, ...]:
    """sglang's order of GT image extensions for a request's ``output_format``: its own
    extension first (``jpeg`` -> ``.jpg``; none or unknown -> ``.jpg``, as sglang's
    ``output_format_to_ext`` maps them), then png, jpg, webp."""
    fmt = (output_format or "").lower()
    first = ".jpg" if fmt in ("", "jpeg", "jpg") else (f".{fmt}" if fmt in ("png", "webp") else ".png")
    return (first, *[e for e in (".png", ".jpg", ".webp") if e != first])


def image_names(case: Case, output_format: str | None = None) -> list[str]:
    """GT names of an image output, in the order sglang looks them up."""
    return [f"{stem(case)}{ext}" for ext in gt_image_ext_order(output_format)]


def candidate_image_names(case: Case) -> list[str]:
    """Names under which an engine's image output is looked for (GT order, then ``.jpeg``)."""
    return [*image_names(case), f"{stem(case)}.jpeg"]


def candidate_video_names(case: Case) -> list[str]:
    """Names under which an engine's video output is looked for, in order."""
    return [video_name(case), f"{case.id}.mp4"]


def candidate_single_image_names(case: Case) -> list[str]:
    """Names under which an engine's image output is looked for, in order (sglang's, then the
    bare case id)."""
    return [*candidate_image_names(case), *(f"{case.id}.{e}" for e in ("png", "jpg", "webp"))]


def candidate_file_names(case: Case) -> list[str]:
    """Every name ``compare`` may read a candidate of ``case`` from (a video's key-frame PNGs
    included): what ``candidates`` clears when the case fails."""
    if case.modality == "video":
        return [*candidate_video_names(case), *key_frame_names(case).values()]
    return candidate_single_image_names(case)


def expected_outputs(case: Case) -> list[str]:
    """What a GT folder written by gt-gen holds for ``case`` (what ``case_map.json`` lists)."""
    if case.modality == "video":
        return list(key_frame_names(case).values())
    return [f"{stem(case)}{OUTPUT_IMAGE_EXT}"]


_KEY_FRAME_RE = re.compile(r"^(?P<case>.+)_(?P<gpus>\d+)gpu_frame_(?:"
                           + "|".join(map(re.escape, KEY_FRAME_SUFFIX.values())) + r")\.png$")
_GT_IMAGE_RE = re.compile(r"^(?P<case>.+)_(?P<gpus>\d+)gpu(?:"
                          + "|".join(map(re.escape, GT_IMAGE_EXTS)) + r")$")


def parse_gt_name(name: str) -> tuple[str, int, str] | None:
    """The inverse of the GT names above: ``(case id, GPU count, modality)`` of a key-frame or
    GT image file name, or None when ``name`` is neither (or its case id is not a valid id)."""
    for rx, modality in ((_KEY_FRAME_RE, "video"), (_GT_IMAGE_RE, "image")):
        m = rx.match(name)
        if m:
            try:
                validate_case_id(m["case"])
            except ConfigError:
                return None
            return m["case"], int(m["gpus"]), modality
    return None
