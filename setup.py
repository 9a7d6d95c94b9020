"""Build the optional C kernel of the fast metrics, and ship the default data in the wheel
(pyproject.toml holds everything else).

``optional=True``: without a C compiler the install still succeeds and gt-gen falls back to
its torch implementation of the same metrics.

The repository keeps the default cases and thresholds at its top level; a wheel installs only
packages, so ``build_py`` copies ``cases/`` and ``thresholds/`` into the built package as
``gt_gen/_data/`` (never into the source tree), where :mod:`gt_gen.data_paths` finds them
outside a checkout. Editable installs read the checkout's folders directly and copy nothing.
"""

import platform
import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA = ("cases", "thresholds")


class build_py_with_data(build_py):  # noqa: N801  (setuptools command naming)
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in DATA:
            src, dst = ROOT / name, Path(self.build_lib) / "gt_gen" / "_data" / name
            if not src.is_dir():
                continue  # building from an sdist made without them: nothing to ship
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, symlinks=False,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


# The kernel's baseline is portable C (x86-64-v2 on x86: SSE4.2, what CI and every x86 machine
# of the last decade run); its AVX2/FMA path is compiled per function and chosen at run time,
# so one build serves CPUs with and without AVX2. Elsewhere (aarch64, ...) the compiler's default.
# Threads are plain pthreads (no OpenMP runtime to find: Apple's clang builds it too).
_X86 = platform.machine().lower() in ("x86_64", "amd64")

setup(cmdclass={"build_py": build_py_with_data}, ext_modules=[
    Extension("gt_gen.metrics._fastssim", ["gt_gen/metrics/_native/fastssim.c"],
              extra_compile_args=["-O3", "-pthread", *(["-march=x86-64-v2"] if _X86 else []), "-ftree-vectorize"],
              extra_link_args=["-pthread"], optional=True),
    # PNG row filters undone for gt_gen.png_rgb8 (without it, libpng through OpenCV reads PNGs).
    Extension("gt_gen._pngrows", ["gt_gen/_native/pngrows.c"], extra_compile_args=["-O3"], optional=True)])
