"""CLIP image-image similarity: cosine of L2-normalised image embeddings.

sglang uses ``openai/clip-vit-large-patch14``. No wheel ships CLIP weights, so loading can
fail offline: then the metric is *unavailable* with a reason, and its gate is reported as
not evaluated, never as passed. A local directory (e.g. a tiny random CLIP saved by the
tests) can stand in for the hub id.

Where the model comes from is decided once, up front, without the hub's retry loop (which
spent over a minute per run on a machine with no network): ``none`` disables the metric; a
local directory is loaded from disk; a hub id already in the local cache is loaded from the
cache with no request; otherwise one short probe of the hub decides between downloading and
a single clear "not evaluated" line. The full reason (never cut) goes to results.json.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14"
DEFAULT_CLIP_REVISION = "main"
#: Values of ``--clip-model`` that turn the metric off.
DISABLED = ("", "none", "off")
#: Files a cached CLIP needs before it can be loaded without the hub.
CACHE_FILES = ("config.json", "preprocessor_config.json")
PROBE_TIMEOUT_S = 3.0
ADVICE = "pass --clip-model none or a local directory"


@dataclass
class ClipStatus:
    """Whether CLIP scores, and if not, why (``reason`` is complete, for results.json)."""

    available: bool
    model: str
    revision: str
    reason: str = ""  # the whole story, for results.json
    disabled: bool = False  # the user turned CLIP off: "disabled", never "unavailable"
    summary: str = ""  # the one line a user reads on the console

    @property
    def note(self) -> str:
        """A short human note for a case's message: ``disabled`` or ``not evaluated (...)``."""
        if self.available:
            return ""
        if self.disabled:
            return "CLIP gate disabled (--clip-model none)"
        return f"CLIP gate not evaluated (model {self.model} unavailable: clip.reason in results.json)"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no", "off")


def looks_like_path(model: str) -> bool:
    """A name the hub would never accept as a repo id is meant as a local directory."""
    if os.path.exists(model) or model.startswith(("/", ".", "~")):
        return True
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(model)
    except HFValidationError:
        return True
    return False


def in_cache(model: str, revision: str, cache_dir: str | None = None) -> bool:
    """Whether the hub cache holds what loading ``model@revision`` needs (no request made)."""
    from huggingface_hub import try_to_load_from_cache

    for name in CACHE_FILES:
        got = try_to_load_from_cache(model, name, revision=revision, cache_dir=cache_dir)
        if not isinstance(got, str):
            return False
    return True


def probe_hub(endpoint: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """``None`` when the hub answers at all (any HTTP status), else why it cannot be reached.

    One request, no retries: the point is to decide quickly, not to survive a blip (a model
    that is then not found still fails with the hub's own error)."""
    import requests
    from huggingface_hub import constants

    url = (endpoint or constants.ENDPOINT).rstrip("/") + "/api/models"
    try:
        requests.head(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        inner = exc.__context__ or exc
        return f"{type(exc).__name__}: {' '.join(str(inner).split())}"
    return None


class ClipScorer:
    """Loads a CLIP vision model once and scores frame pairs."""

    def __init__(self, model: str = DEFAULT_CLIP_MODEL, revision: str = DEFAULT_CLIP_REVISION,
                 *, device: str = "cpu", cache_dir: str | None = None,
                 probe: Callable[[], str | None] = probe_hub) -> None:
        self.status = ClipStatus(False, model, revision)
        self._model: Any = None
        self._processor: Any = None
        self.device = device
        if model.strip().lower() in DISABLED:
            self.status.disabled = True
            self.status.reason = self.status.summary = "CLIP disabled (--clip-model none)"
            return
        local_only, why_not, detail = self._where(model, revision, cache_dir, probe)
        if why_not:
            self.status.summary = f"CLIP not evaluated: {why_not}; {ADVICE}"
            detail = " ".join(detail.split())
            self.status.reason = self.status.summary + (f" ({detail})" if detail else "")
            return
        try:
            from transformers import CLIPImageProcessor, CLIPModel

            kwargs: dict[str, Any] = {"local_files_only": local_only}
            if not os.path.isdir(model):
                kwargs.update(revision=revision, cache_dir=cache_dir)
            self._processor = CLIPImageProcessor.from_pretrained(model, **kwargs)
            self._model = CLIPModel.from_pretrained(model, **kwargs).to(device).eval()
            self.status.available = True
        except Exception as exc:  # any load failure means "unavailable", with the whole reason
            msg = " ".join(str(exc).split())
            self.status.summary = (f"CLIP not evaluated: model {model}@{revision} could not be "
                                   f"loaded ({type(exc).__name__}); {ADVICE}")
            self.status.reason = f"{self.status.summary} ({type(exc).__name__}: {msg})"

    @staticmethod
    def _where(model: str, revision: str, cache_dir: str | None,
               probe: Callable[[], str | None]) -> tuple[bool, str, str]:
        """(load from local files only, why it cannot be loaded at all or "", technical detail)."""
        if os.path.isdir(model):
            return True, "", ""
        if looks_like_path(model):
            return True, f"the local model directory {model} does not exist", ""
        if in_cache(model, revision, cache_dir):
            return True, "", ""
        where = f"model {model}@{revision} is not in the local cache"
        if _offline():
            return True, f"{where} and HF_HUB_OFFLINE is set", ""
        unreachable = probe()
        if unreachable:
            return True, f"{where} and the hub is unreachable", f"hub probe: {unreachable}"
        return False, "", ""

    def embed(self, frame: np.ndarray) -> np.ndarray:
        import numpy as np
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
        import numpy as np

        a, b = self.embed(gt), self.embed(cand)
        return float(np.dot(a, b))
