"""Tiny diffusers models on disk, in the hub layout ``from_pretrained`` reads, cached by content.

Why on disk and not in memory: the tiny profile must exercise the same loading code as the full
profile (``<Pipeline>.from_pretrained(folder, torch_dtype=...)``, component by component), and
the loopback-hub test serves these very folders over HTTP. Each model is built from a seed by
:mod:`.families`, saved with ``save_pretrained`` into a temporary folder and moved into
``$GT_GEN_CACHE/tiny-diffusers/<key>-<content hash>`` atomically; the hash covers the builder
sources, the seed and the library versions, so a changed builder never reuses stale files.
``files.json`` lists every file's sha256 for the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gt_gen.errors import ConfigError
from gt_gen.generate.cache import cache_root

LISTING = "files.json"


def content_key(key: str, seed: int) -> str:
    """Hash of the builder sources, the model key, the seed and the versions that shape files."""
    from importlib.metadata import version

    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for src in [*sorted(here.glob("*.py")), here.parent.parent.parent / "tiny_init.py"]:
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    meta = {"key": key, "seed": seed, **{p: version(p) for p in ("torch", "diffusers",
                                                                  "transformers", "tokenizers")}}
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _save(pipe: Any, folder: Path) -> None:
    """``save_pretrained``; a Qwen2-VL processor is saved as its parts (tokenizer, image
    processor), the layout of the real repositories' ``processor/`` folder."""
    from gt_gen.generate.backends.diffusers.backend import quiet_diffusers

    processor = getattr(pipe, "processor", None)
    if processor is not None:
        pipe.register_modules(processor=None)
    with quiet_diffusers():
        pipe.save_pretrained(str(folder), safe_serialization=True)
    if processor is not None:
        proc = folder / "processor"
        processor.tokenizer.save_pretrained(str(proc))
        processor.image_processor.save_pretrained(str(proc))
        (proc / "chat_template.jinja").write_text(processor.chat_template)
        index_path = folder / "model_index.json"
        index = json.loads(index_path.read_text())
        index["processor"] = ["transformers", "Qwen2VLProcessor"]
        index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        pipe.register_modules(processor=processor)


def build_tiny(key: str, seed: int = 0, *, root: Path | None = None) -> Path:
    """The folder of tiny model ``key`` for ``seed``, built (atomically) if not cached."""
    from gt_gen.generate.backends.diffusers.tiny.families import BUILDERS

    if key not in BUILDERS:
        raise ConfigError(f"no tiny diffusers model {key!r}; known: {sorted(BUILDERS)}")
    final = (root or cache_root() / "tiny-diffusers") / f"{key}-{content_key(key, seed)}"
    if (final / LISTING).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        _save(BUILDERS[key](seed), tmp)
        listing = {str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / LISTING).write_text(json.dumps(listing, indent=2, sort_keys=True) + "\n")
        try:
            os.replace(tmp, final)
        except OSError:  # built concurrently by another process: keep theirs
            if not (final / LISTING).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def listing(folder: Path) -> dict[str, str]:
    """File -> sha256 of a built tiny model."""
    data: dict[str, str] = json.loads((folder / LISTING).read_text())
    return data
