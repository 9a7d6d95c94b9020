"""Write one case's GT in ci-data naming, atomically: an image, or an mp4 and its key-frame PNGs.

Images: ``{case}_{n}gpu.png``, the generated RGB frame losslessly (sglang's official GT script
saves the pipeline's image as it is; PNG keeps every value).

Videos: frames reach the PNGs *through the mp4*, as sglang's GT does. The backend encodes the
decoded frames as its family's official GT is encoded (LTX-2: the ``ltx_pipelines`` encoder
with the audio track; diffusers: libx264 yuv420p as sglang's official script), then the key
frames are read back from that mp4 exactly as ``compare`` reads a candidate (OpenCV, seek to 0,
total//2, total-1). Why: an engine's output reaches the gate as an mp4, so its frames carry the
codec's loss; GT frames that skipped the codec would make the gate measure x264 rather than
the engine. The raw frames' sha256 is kept in the manifest too, so determinism can be checked
before the codec.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gt_gen.atomic import atomic_path, write_bytes
from gt_gen.cases import Case
from gt_gen.errors import GenerationError
from gt_gen.frames import read_key_frames
from gt_gen.generate.backends import CaseOutput
from gt_gen.naming import expected_outputs, key_frame_names, video_name
from gt_gen.reports.sidebyside import encode_png

if TYPE_CHECKING:
    from gt_gen.generate.backends import Backend


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_frames_sha256(frames: torch.Tensor) -> str:
    return hashlib.sha256(frames.contiguous().numpy().tobytes()).hexdigest()


def write_case_outputs(case: Case, out: CaseOutput, out_dir: Path,
                       backend: "Backend") -> dict[str, str]:
    """Write the case's GT files; return file name -> sha256."""
    frames = out.frames
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise GenerationError(f"case {case.id}: outputs must be RGB uint8 [F, H, W, 3], got "
                              f"{frames.dtype} {tuple(frames.shape)}", case_id=case.id)
    out_dir.mkdir(parents=True, exist_ok=True)
    if case.modality == "image":
        if frames.shape[0] != 1:
            raise GenerationError(f"case {case.id}: an image case produced {frames.shape[0]} "
                                  "frames", case_id=case.id)
        png = encode_png(np.ascontiguousarray(frames[0].numpy()))
        name = expected_outputs(case)[0]  # {case}_{n}gpu.png
        write_bytes(out_dir / name, png)
        return {name: hashlib.sha256(png).hexdigest()}
    mp4 = out_dir / video_name(case)
    with atomic_path(mp4) as tmp:
        backend.write_video(case, out, tmp)
        keys = read_key_frames(tmp, case.key_frames)
    files = {mp4.name: sha256_file(mp4)}
    for key, name in key_frame_names(case).items():
        png = encode_png(np.ascontiguousarray(keys[key]))
        write_bytes(out_dir / name, png)
        files[name] = hashlib.sha256(png).hexdigest()
    return files
