"""The input images a case declares, and which of them are known only by URL.

Two places hold input images: ``[case.request.image]`` (the LTX conditioning image) and the
diffusers family table's ``[[case.request.<family>.images]]``. Either is a local file pinned in
the TOML (``path`` + ``sha256``, e.g. the tiny cases' images) or sglang's ``url``, whose local
copy is pinned in the assets lock. Pure Python: case loading uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class InputRef:
    """One declared input image: where the case says it is, and how it is pinned."""

    #: The TOML field, e.g. ``request.image`` or ``request.qwen_image.images[1]``.
    field: str
    url: str = ""
    path: str = ""
    sha256: str = ""

    @property
    def local(self) -> bool:
        """Pinned in the case file itself (a path and its sha256)."""
        return bool(self.path and self.sha256)


def inputs_of(case: Any) -> list[InputRef]:
    """Every input image of ``case``, in declaration order."""
    out: list[InputRef] = []
    img = case.request.image
    if img is not None:
        out.append(InputRef("request.image", img.url, img.path, img.sha256))
    fam = case.request.family
    for i, im in enumerate(getattr(fam, "images", ()) or ()):
        out.append(InputRef(f"request.{fam.family}.images[{i}]", im.url, im.path, im.sha256))
    return out


def url_inputs(case: Any) -> list[str]:
    """The URLs of ``case`` whose local copy comes from the assets lock (each once)."""
    return list(dict.fromkeys(r.url for r in inputs_of(case) if r.url and not r.local))


def pin_command(case: Any) -> str:
    """The exact command that pins ``case``'s URL inputs (``--cases`` when not the default)."""
    from gt_gen.data_paths import data_dir

    folder = Path(case.source).parent
    cmd = f"gt-gen assets pin --case {case.id}"
    try:
        default = folder.resolve() == data_dir("cases").resolve()
    except OSError:
        default = False
    return cmd if default else f"{cmd} --cases {folder}"


def input_url_problem(url: str) -> str | None:
    """Why ``url`` cannot name an input image in a case file, or None.

    Case files are committed and their URLs end up in manifests, requests and logs: a URL must be
    plain http(s) with a host, and never carry credentials (``user:secret@``) — a token belongs
    in the environment, not in a reviewed file."""
    from urllib.parse import urlsplit

    if not url.startswith(("https://", "http://")):
        return "must be an http(s) URL"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a valid URL"
    if "@" in parts.netloc:
        return "must not carry credentials (user:password@); gt-gen sends none for inputs"
    if not host or any(c.isspace() for c in url):
        return "is not a valid URL (no host, or whitespace)"
    return None
