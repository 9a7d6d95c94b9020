"""Where gt-gen's official-LTX helpers live, whichever layout this checkout has.

Why: the LTX backend is moving from ``gt_gen/generate/`` into ``gt_gen/generate/backends/ltx/``
(design §5). Converter, diffusers engine and tracer import the tiny builder, the Gemma patch and
the official runner through these functions only, so the move touches one file.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_LAYOUTS = ("gt_gen.generate.backends.ltx", "gt_gen.generate")


def _module(name: str) -> ModuleType:
    last: ModuleNotFoundError | None = None
    for base in _LAYOUTS:
        try:
            return importlib.import_module(f"{base}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name is not None and not f"{base}.{name}".startswith(exc.name):
                raise  # a real missing dependency inside the module
            last = exc
    assert last is not None
    raise last


def tiny() -> ModuleType:
    """The tiny checkpoint builder (``build_tiny``, ``TinyCheckpoints``)."""
    return _module("tiny")


def tiny_patch() -> ModuleType:
    """The Gemma-constant swap and the CPU ``synchronize`` no-op."""
    return _module("tiny_patch")


def official() -> ModuleType:
    """The official runner (``OfficialRunner``, ``guider_params``, ``PIPELINE_CLASSES``)."""
    for name in ("official", "run"):
        try:
            mod = _module(name)
        except ModuleNotFoundError:
            continue
        if hasattr(mod, "guider_params"):
            return mod
    raise ModuleNotFoundError("gt-gen's official LTX runner (official.py) was not found")


def weights() -> ModuleType:
    """Model resolution (``resolve_tiny``, ``resolve_full``, ``ResolvedModel``)."""
    for name in ("weights", "resolve"):
        try:
            mod = _module(name)
        except ModuleNotFoundError:
            continue
        if hasattr(mod, "resolve_tiny"):
            return mod
    raise ModuleNotFoundError("gt-gen's model resolution (weights.py) was not found")
