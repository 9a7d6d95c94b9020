"""Where gt-gen's default cases and thresholds live, in a checkout and when installed.

The repository keeps them at its top level (``cases/``, ``thresholds/``), where they are
edited and reviewed. A wheel cannot install top-level folders beside its package, so the build
(``setup.py``'s ``build_py``) copies them into the package as ``gt_gen/_data/<name>``. A
checkout (recognised by its ``pyproject.toml`` beside the package) always uses its own
top-level folders, so an editable install never reads a stale copy.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
#: The folder inside the installed package that holds the shipped copies.
SHIPPED = PACKAGE / "_data"
#: Top-level folders shipped inside the wheel.
NAMES = ("cases", "thresholds")


def data_dir(name: str) -> Path:
    """The folder ``name`` (one of :data:`NAMES`): the checkout's own, else the shipped copy.

    When neither exists the checkout path is returned, so that the loader's "not found" error
    names the folder a user would expect."""
    if name not in NAMES:
        raise ValueError(f"unknown data folder {name!r}")
    checkout = PACKAGE.parent / name
    if (PACKAGE.parent / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    return SHIPPED / name if (SHIPPED / name).is_dir() else checkout
