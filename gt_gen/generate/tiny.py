"""Moved to :mod:`gt_gen.generate.backends.ltx.tiny` (each backend has its own room); this name
stays importable for scripts and callers outside the package."""

from gt_gen.generate.backends.ltx.tiny import *  # noqa: F401,F403
from gt_gen.generate.backends.ltx.tiny import _init_  # noqa: F401,E402
from gt_gen.generate.cache import cache_root  # noqa: F401,E402
