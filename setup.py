"""Build the optional C kernel of the fast metrics (pyproject.toml holds everything else).

``optional=True``: without a C compiler the install still succeeds and gt-gen falls back to
its torch implementation of the same metrics.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "gt_gen.metrics._fastssim", ["gt_gen/metrics/_native/fastssim.c"],
    extra_compile_args=["-O3", "-fopenmp", "-march=x86-64-v2", "-ftree-vectorize"],
    extra_link_args=["-fopenmp"], optional=True)])
