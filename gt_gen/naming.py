"""File names of GT and candidate outputs, in sglang's ci-data naming.

Video key frames: ``{case}_{n}gpu_frame_{0|mid|last}.png``; images: ``{case}_{n}gpu.{ext}``;
videos: ``{case}_{n}gpu.mp4``. ``n`` is the case's GPU count, used as a name only.
"""

from __future__ import annotations

from gt_gen.cases import Case, validate_case_id

KEY_FRAME_SUFFIX = {"first": "0", "mid": "mid", "last": "last"}
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


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


def image_names(case: Case) -> list[str]:
    """Candidate names of an image output, preferred first."""
    return [f"{stem(case)}{ext}" for ext in IMAGE_EXTS]


def expected_outputs(case: Case) -> list[str]:
    """What a GT folder holds for ``case`` (what ``case_map.json`` lists)."""
    if case.modality == "video":
        return list(key_frame_names(case).values())
    return [image_names(case)[0]]
