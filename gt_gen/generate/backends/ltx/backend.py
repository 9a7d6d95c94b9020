"""The official LTX-2 backend behind the :class:`~gt_gen.generate.backends.Backend` contract.

It adds nothing to the official code path: :class:`~.official.OfficialRunner` builds the
``ltx-pipelines`` classes and memoises their models; this class resolves weights (hub or tiny),
activates what a group needs (the tiny Gemma constant only when a tiny case runs, a CPU no-op
for ``torch.cuda.synchronize``, step progress), encodes with the official encoder and keeps the
recorded initial noise next to the GT.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from gt_gen.cases import Case
from gt_gen.errors import UsageError
from gt_gen.generate.backends import CaseOutput
from gt_gen.generate.backends.ltx.official import OfficialRunner
from gt_gen.generate.backends.ltx.tiny_patch import cpu_synchronize_noop, tiny_gemma_constant
from gt_gen.generate.backends.ltx.weights import ResolvedModel, resolve_full, resolve_tiny
from gt_gen.generate.progress import Progress


class LtxBackend:
    """``backend = "ltx_official"``."""

    name = "ltx_official"

    def __init__(self, device: torch.device, reuse: str = "models",
                 runner: OfficialRunner | None = None) -> None:
        self.device = device
        self.runner = runner or OfficialRunner(device, reuse)
        self.reuse = reuse
        #: The ``random-full`` profile's runner (random weights, same pipelines), made on first use.
        self._random_runner: OfficialRunner | None = None
        self._recorded: dict[str, Any] = {}

    def resolve(self, case: Case, profile: str, *, weights_dir: Path | None,
                allow_unpinned: bool) -> ResolvedModel:
        if profile == "random-full":
            from gt_gen.generate.backends.ltx.random_full import resolve_random_full

            return resolve_random_full(case)
        if profile == "tiny":
            if not case.model.is_tiny:
                raise UsageError(f"case {case.id} is a full-size case; --profile tiny applies to "
                                 "tiny cases only (cases/tiny.toml)")
            return resolve_tiny(case)
        return resolve_full(case, weights_dir=weights_dir, allow_unpinned=allow_unpinned)

    def tiny(self, case: Case) -> Path:
        return resolve_tiny(case).checkpoint.parent

    def run(self, case: Case, resolved: ResolvedModel) -> CaseOutput:
        from gt_gen.trace.inputs import recorded_inputs

        with recorded_inputs() as rec:  # initial noise + sigmas, for --inject-noise
            out = self._runner_for(resolved).run(case, resolved)
        self._recorded[case.id] = rec
        return out

    def _runner_for(self, resolved: ResolvedModel) -> OfficialRunner:
        if resolved.provenance.get("profile") != "random-full":
            return self.runner
        if self._random_runner is None:
            from gt_gen.generate.backends.ltx.random_full import RandomFullRunner

            self._random_runner = RandomFullRunner(self.device, self.reuse)
        return self._random_runner

    def finish(self, case: Case, out: CaseOutput, out_dir: Path) -> dict[str, Any]:
        from gt_gen.trace.inputs import write_inputs

        rec = self._recorded.pop(case.id, None)
        extra: dict[str, Any] = {"precision": case.precision}
        if rec is not None:
            extra["inputs"] = write_inputs(case, rec, out_dir)
        return extra

    def write_video(self, case: Case, out: CaseOutput, path: Path) -> None:
        """The official encoder (libx264, yuv420p, with the audio track)."""
        from ltx_core.types import Audio
        from ltx_pipelines.utils.media_io import encode_video

        audio = None
        if out.audio_waveform is not None and out.audio_sample_rate:
            audio = Audio(waveform=out.audio_waveform, sampling_rate=out.audio_sample_rate)
        encode_video(video=out.frames, fps=int(round(case.request.fps)), audio=audio,
                     output_path=str(path), video_chunks_number=1)

    def release(self) -> None:
        self._recorded.clear()
        self.runner.release()
        if self._random_runner is not None:
            self._random_runner.release()

    @contextlib.contextmanager
    def session(self, cases: list[Case], progress: Progress) -> Iterator[None]:
        tiny_any = any(c.model.is_tiny for c in cases)
        patch = tiny_gemma_constant() if tiny_any else contextlib.nullcontext()
        with patch, cpu_synchronize_noop(self.device), progress.patch_official_loops():
            yield
