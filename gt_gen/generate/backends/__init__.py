"""The backend contract: how a family's official code turns a :class:`~gt_gen.cases.Case` into frames.

Why a contract: the runner (:mod:`gt_gen.generate.runner`) owns what every family shares --
selection, progress, the manifest, out-of-memory handling, load-once -- and knows no family.
Each backend lives in its own package (``backends/ltx``: the official LTX-2 pipelines;
``backends/diffusers``: the diffusers releases of FLUX, Qwen-Image, Z-Image, Wan) behind this
small protocol, and is found by name through :data:`REGISTRY`, imported only when a case needs
it. Nothing here imports torch: the case registry imports the backends' request specs.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Protocol

if TYPE_CHECKING:
    import torch

    from gt_gen.cases import Case
    from gt_gen.generate.progress import Progress

#: Backend name (``case.backend``) -> ``module:Class``; imported on first use.
REGISTRY: dict[str, str] = {
    "ltx_official": "gt_gen.generate.backends.ltx.backend:LtxBackend",
    "diffusers": "gt_gen.generate.backends.diffusers.backend:DiffusersBackend",
}


@dataclass
class CaseOutput:
    """What one generation produced: RGB uint8 frames ``[F, H, W, 3]`` on the CPU (an image is one
    frame), optional audio, and what the manifest records about the run."""

    frames: "torch.Tensor"
    audio_waveform: "torch.Tensor | None"
    audio_sample_rate: int | None
    pipeline_class: str
    timings: dict[str, float] = field(default_factory=dict)
    builds: int = 0
    #: Backend-specific manifest fields (call arguments, tiny overrides, implementation, ...).
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """Where a case's weights are (backend-specific ``paths``) and their provenance."""

    paths: Any
    provenance: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """One family's official code. ``device`` and ``reuse`` are fixed at construction."""

    name: str

    def resolve(self, case: "Case", profile: str, *, weights_dir: Path | None,
                allow_unpinned: bool) -> Any:
        """Local files of the case's model (tiny: built here; full: hub at pinned commits);
        the result has a ``provenance`` dict for the manifest."""

    def run(self, case: "Case", resolved: Any) -> CaseOutput:
        """Generate one case with models loaded once per group (memoised by the backend)."""

    def tiny(self, case: "Case") -> Path:
        """Build (or reuse from the cache) the tiny model of ``case``; its root folder."""

    def release(self) -> None:
        """Drop every memoised model (after an out-of-memory error)."""

    def session(self, cases: list["Case"], progress: "Progress") -> ContextManager[None]:
        """What must be active while the group runs (progress hooks, tiny-only patches)."""

    def write_video(self, case: "Case", out: CaseOutput, path: Path) -> None:
        """Encode the frames to ``path`` (mp4) as the family's official GT is encoded."""

    def finish(self, case: "Case", out: CaseOutput, out_dir: Path) -> dict[str, Any]:
        """Extra files next to the GT (e.g. recorded noise); their manifest fields."""


def load_backend(name: str, device: "torch.device", reuse: str) -> Backend:
    """Instantiate the backend registered as ``name``."""
    from gt_gen.errors import ConfigError

    if name not in REGISTRY:
        raise ConfigError(f"backend {name!r} generates no GT; known: {sorted(REGISTRY)}")
    module, _, cls = REGISTRY[name].partition(":")
    backend: Backend = getattr(importlib.import_module(module), cls)(device, reuse)
    return backend


@contextlib.contextmanager
def no_session() -> Iterator[None]:
    """A backend with nothing to activate for the group."""
    yield
