"""CLIP image-image similarity: cosine of L2-normalised image embeddings.

sglang uses ``openai/clip-vit-large-patch14``. No wheel ships CLIP weights, so loading can
fail offline: then the metric is *unavailable* with a reason, and its gate is reported as
not evaluated, never as passed. A local directory (e.g. a tiny random CLIP saved by the
tests) can stand in for the hub id.
"""

from __future__ import annotations

import os
from typing import Any
from dataclasses import dataclass

import numpy as np

DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14"
DEFAULT_CLIP_REVISION = "main"


@dataclass
class ClipStatus:
    available: bool
    model: str
    revision: str
    reason: str = ""


class ClipScorer:
    """Loads a CLIP vision model once and scores frame pairs."""

    def __init__(self, model: str = DEFAULT_CLIP_MODEL, revision: str = DEFAULT_CLIP_REVISION,
                 *, device: str = "cpu") -> None:
        self.status = ClipStatus(False, model, revision)
        self._model = None
        self._processor = None
        self.device = device
        if model in ("", "none", "off"):
            self.status.reason = "CLIP disabled (--clip-model none)"
            return
        try:
            from transformers import CLIPImageProcessor, CLIPModel

            offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
            kwargs: dict[str, Any] = {"revision": revision, "local_files_only": offline or os.path.isdir(model)}
            self._processor = CLIPImageProcessor.from_pretrained(model, **kwargs)
            self._model = CLIPModel.from_pretrained(model, **kwargs).to(device).eval()
            self.status.available = True
        except Exception as exc:  # any load failure means "unavailable", with the reason
            msg = " ".join(str(exc).split())[:200]
            self.status.reason = f"CLIP model {model}@{revision} not available: {type(exc).__name__}: {msg}"

    def embed(self, frame: np.ndarray) -> np.ndarray:
        import torch

        assert self._model is not None and self._processor is not None
        inputs = self._processor(images=[frame], return_tensors="pt").to(self.device)
        with torch.inference_mode():
            emb = self._model.get_image_features(**inputs)[0].float()
        emb = emb / emb.norm().clamp_min(1e-12)
        return emb.cpu().numpy().astype(np.float64)

    def score(self, gt: np.ndarray, cand: np.ndarray) -> float | None:
        """Cosine similarity in [-1, 1], or None when CLIP is unavailable."""
        if not self.status.available:
            return None
        a, b = self.embed(gt), self.embed(cand)
        return float(np.dot(a, b))
