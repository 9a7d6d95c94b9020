"""Moved to :mod:`gt_gen.generate.backends.ltx.weights` (each backend has its own room); this name
stays importable for scripts and callers outside the package."""

from gt_gen.generate.backends.ltx.weights import *  # noqa: F401,F403
from gt_gen.generate.cache import file_sha256  # noqa: F401,E402
