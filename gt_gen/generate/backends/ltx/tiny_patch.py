"""The one place where the tiny profile bends the official package.

Why it is needed: ``ltx_core`` hard-codes the Gemma-3-12B configuration
(``ltx_core.text_encoders.gemma.config.GEMMA3_CONFIG_FOR_LTX``); the encoder configurator
imported that constant by name, and the feature extractor's width is derived from it. A
tiny text encoder is only possible by substituting the constant in *both* modules, before
any embeddings processor or text encoder is built (writing the tiny checkpoint included),
or the feature extractor is built at 12B width (a 722M-parameter layer).

Only :func:`tiny_gemma_constant` mutates the official package, and only while active. The
full profile never enters it. CPU runs also need ``torch.cuda.synchronize`` to be a no-op,
since the official pipelines call it unconditionally: :func:`cpu_synchronize_noop`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator

import torch

from gt_gen.generate.backends.ltx.tiny_config import gemma_config_kwargs

_LOCK = threading.RLock()


def tiny_gemma_config():  # -> ltx_core.text_encoders.gemma.config.Gemma3ConfigData
    """The tiny replacement of ``GEMMA3_CONFIG_FOR_LTX``."""
    from ltx_core.text_encoders.gemma import config as gcfg

    kw = gemma_config_kwargs()
    base = gcfg.Gemma3ConfigData()
    text = dataclasses.replace(base.text_config, **kw["text"])
    vision = dataclasses.replace(base.vision_config, **kw["vision"])
    return dataclasses.replace(base, text_config=text, vision_config=vision, **kw["top"])


@contextlib.contextmanager
def tiny_gemma_constant() -> Iterator[None]:
    """Swap the Gemma constant where it is defined and where it was imported; restore after."""
    from ltx_core.text_encoders.gemma import config as gcfg
    from ltx_core.text_encoders.gemma.encoders import encoder_configurator as enc

    with _LOCK:
        saved = (gcfg.GEMMA3_CONFIG_FOR_LTX, enc.GEMMA3_CONFIG_FOR_LTX)
        tiny = tiny_gemma_config()
        gcfg.GEMMA3_CONFIG_FOR_LTX = tiny
        enc.GEMMA3_CONFIG_FOR_LTX = tiny
        try:
            yield
        finally:
            gcfg.GEMMA3_CONFIG_FOR_LTX, enc.GEMMA3_CONFIG_FOR_LTX = saved


@contextlib.contextmanager
def cpu_synchronize_noop(device: torch.device) -> Iterator[None]:
    """On a CPU device, make ``torch.cuda.synchronize`` a no-op (the pipelines call it always)."""
    if device.type == "cuda":
        yield
        return
    saved = torch.cuda.synchronize
    torch.cuda.synchronize = lambda *a, **k: None  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.cuda.synchronize = saved  # type: ignore[assignment]
