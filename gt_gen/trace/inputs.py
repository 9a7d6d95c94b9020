"""The GT run's own random inputs, kept next to the GT so another engine can replay them.

Why: a seed is not an input another implementation can reproduce -- diffusers draws its noise in
another layout and order than the official pipelines. ``generate`` therefore records, for every
case, the raw initial noise of each denoising stage and the sigma schedule (through
:class:`~gt_gen.trace.official_hooks.OfficialRecorder` in light mode; the official code is not
modified) into ``{case}_{n}gpu_inputs.safetensors`` and lists it in the manifest entry as
``inputs`` (file, sha256, tensor shapes/dtypes, precision). ``candidates --inject-noise`` and
``trace`` read it back through :func:`read_inputs`, which verifies the sha256 first.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from gt_gen.atomic import atomic_path
from gt_gen.cases import Case
from gt_gen.errors import IntegrityError, MissingFileError
from gt_gen.naming import stem
from gt_gen.trace.official_hooks import OfficialRecorder


def inputs_name(case: Case) -> str:
    """``{case}_{n}gpu_inputs.safetensors``."""
    return f"{stem(case)}_inputs.safetensors"


@contextlib.contextmanager
def recorded_inputs() -> Iterator[OfficialRecorder]:
    """Record the initial noise and sigmas of the official pipeline calls inside the block."""
    rec = OfficialRecorder(light=True)
    with rec.attach():
        yield rec


def write_inputs(case: Case, rec: OfficialRecorder, out_dir: Path) -> dict[str, Any]:
    """Write the recorded inputs atomically; return the manifest entry ``inputs``."""
    from safetensors.torch import save_file

    path = out_dir / inputs_name(case)
    tensors = {k: v.contiguous() for k, v in sorted(rec.inputs.items())}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"case": case.id, "precision": case.precision})
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "precision": case.precision, "seed": case.request.seed,
            "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
                        for k, v in tensors.items()}}


def read_inputs(gt_dir: Path, case: Case) -> dict[str, torch.Tensor]:
    """The inputs recorded for ``case`` in the GT folder ``gt_dir`` (manifest-verified)."""
    from safetensors.torch import load_file

    from gt_gen.jsonio import load_file as load_json

    manifest_path = gt_dir / "manifest.json"
    if not manifest_path.is_file():
        raise MissingFileError(f"--inject-noise: {manifest_path} not found (a GT folder written by "
                               "gt-gen generate holds it)", path=manifest_path, case_id=case.id)
    manifest = load_json(manifest_path)
    entry = (manifest.get("cases", {}) if isinstance(manifest, dict) else {}).get(case.id, {})
    info = entry.get("inputs") if isinstance(entry, dict) else None
    if not isinstance(info, dict) or "file" not in info or "sha256" not in info:
        raise MissingFileError(f"--inject-noise: the GT manifest records no initial noise for case "
                               f"{case.id} (regenerate the GT with this gt-gen)",
                               path=manifest_path, case_id=case.id)
    if info["file"] != inputs_name(case):
        raise IntegrityError(f"--inject-noise: manifest names {info['file']!r} for case {case.id}, "
                             f"expected {inputs_name(case)!r}", path=manifest_path, case_id=case.id)
    path = gt_dir / inputs_name(case)
    if not path.is_file():
        raise MissingFileError(f"--inject-noise: {path.name} is listed in the manifest but missing",
                               path=path, case_id=case.id)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != info["sha256"]:
        raise IntegrityError(f"--inject-noise: {path.name} sha256 {digest[:12]}… does not match "
                             f"the manifest's {str(info['sha256'])[:12]}…", path=path, case_id=case.id)
    return dict(load_file(str(path)))
