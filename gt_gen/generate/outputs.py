"""Write one case's GT: the mp4 (official encoder) and the key-frame PNGs, atomically.

How frames reach the PNGs: *through the mp4*, as sglang's GT does. The decoded frames are
encoded with the official ``ltx_pipelines`` encoder (libx264, yuv420p, with the audio track),
then the key frames are read back from that mp4 exactly as ``compare`` reads a candidate
(OpenCV, seek to 0, total//2, total-1). Why: an engine's output reaches the gate as an mp4,
so its frames carry the codec's loss; GT frames that skipped the codec would make the gate
measure x264 rather than the engine. The raw frames' sha256 is kept in the manifest too,
so determinism can be checked before the codec.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from gt_gen.atomic import atomic_path, write_bytes
from gt_gen.cases import Case
from gt_gen.frames import read_key_frames
from gt_gen.generate.official import CaseOutput
from gt_gen.naming import key_frame_names, video_name
from gt_gen.reports.sidebyside import encode_png


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_frames_sha256(frames: torch.Tensor) -> str:
    return hashlib.sha256(frames.contiguous().numpy().tobytes()).hexdigest()


def write_case_outputs(case: Case, out: CaseOutput, out_dir: Path) -> dict[str, str]:
    """Write ``{stem}.mp4`` and the key-frame PNGs; return file name -> sha256."""
    from ltx_core.types import Audio
    from ltx_pipelines.utils.media_io import encode_video

    out_dir.mkdir(parents=True, exist_ok=True)
    mp4 = out_dir / video_name(case)
    audio = None
    if out.audio_waveform is not None and out.audio_sample_rate:
        audio = Audio(waveform=out.audio_waveform, sampling_rate=out.audio_sample_rate)
    with atomic_path(mp4) as tmp:
        encode_video(video=out.frames, fps=int(round(case.request.fps)), audio=audio,
                     output_path=str(tmp), video_chunks_number=1)
        frames = read_key_frames(tmp, case.key_frames)
    files = {mp4.name: sha256_file(mp4)}
    for key, name in key_frame_names(case).items():
        png = encode_png(np.ascontiguousarray(frames[key]))
        write_bytes(out_dir / name, png)
        files[name] = hashlib.sha256(png).hexdigest()
    return files
