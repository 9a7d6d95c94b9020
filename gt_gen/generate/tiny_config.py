"""Moved to :mod:`gt_gen.generate.backends.ltx.tiny_config` (each backend has its own room); this name
stays importable for scripts and callers outside the package."""

from gt_gen.generate.backends.ltx.tiny_config import *  # noqa: F401,F403
