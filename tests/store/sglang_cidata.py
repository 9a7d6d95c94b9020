"""A git repository in the exact shape of sglang's real ci-data (``sgl-project/ci-data-diffusion``).

What the real tree holds, and so what this fixture holds (file contents are small synthetic
images; names, folders and case maps follow the real repository):

* ``diffusion-ci/consistency_gt/official_generated/case_map.json`` in sglang's shape
  (``bundle_date``, ``active_gt_replacement``, ``consistency_gt_dir``, ``repro_scripts_dir``,
  ``cases: {id: {source, script, outputs}}``) -- or, for the second variant, gt-gen's
  ``{"cases": {id: [files]}}`` -- listing three ltx cases, image cases (``.jpg``, one ``.png``)
  and a ``.json`` output; beside it GT files the case map does *not* list (two ltx cases
  sglang keeps out of the official comparison) and platform folders without a case map;
* ``sglang_generated/case_map.json`` with ``notes`` instead of ``script``, listing only other
  cases (as the real one does); every ltx case at the folder's root and in ``h100/``; platform
  folders ``h100``, ``b200``, ``5090``, ``ascend`` (with a nested ``pr-NNNNN/``) holding
  ``.jpg`` / ``.png`` GT with 1- and 2-GPU names, audio ``.wav`` and ``.provenance.json``;
* the older per-case layout ``consistency_gt/1-gpu/<case>/frame_*.png`` (and a mesh asset),
  ``2-gpu/``, ``repro_scripts/`` and ``diffusion-comparisons/``; no ``manifest.json`` anywhere.

File names come from the registry (:mod:`gt_gen.naming`), never hard-coded GPU counts, so the
fixture follows ``cases/ltx.toml``. Two commits: the first is the pinned one; the second
rewrites the ltx GT, so reading the wrong commit shows.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from gt_gen import gitutil
from gt_gen.cases import Case, load_registry
from gt_gen.naming import key_frame_names

GT = "diffusion-ci/consistency_gt"
OFFICIAL = f"{GT}/official_generated"
SGLANG = f"{GT}/sglang_generated"
#: The ltx cases sglang's real official case_map lists (the others are native-only there).
OFFICIAL_LISTED_LTX = ("ltx_2.3_one_stage_ti2v", "ltx_2.3_two_stage_t2v_2gpus", "ltx_2_3_hq_pipeline")
PLATFORMS = ("h100", "b200", "5090", "ascend")


def ltx_cases(cases_dir: Path | None = None) -> list[Case]:
    return load_registry(cases_dir).select(group="ltx")


def image_bytes(tag: str, fmt: str = "PNG", size: int = 32) -> bytes:
    """A small RGB image whose pixels depend on ``tag`` (each folder's copy differs)."""
    rng = np.random.default_rng(zlib.crc32(tag.encode()))
    smooth = np.kron(rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8), np.ones((4, 4, 1), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(smooth).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _frames(folder: str, case: Case, tag: str) -> dict[str, bytes]:
    return {f"{folder}/{n}": image_bytes(f"{tag}:{folder}/{n}") for n in key_frame_names(case).values()}


def _official_case_map(entries: dict[str, tuple[str, str, list[str]]], shape: str) -> bytes:
    if shape == "gtgen":
        return (json.dumps({"cases": {cid: files for cid, (_, _, files) in entries.items()}}, indent=2) + "\n").encode()
    return (json.dumps({
        "bundle_date": "2026-04-25",
        "active_gt_replacement": False,
        "consistency_gt_dir": "consistency_gt",
        "repro_scripts_dir": "repro_scripts",
        "cases": {cid: {"source": src, "script": script, "outputs": files}
                  for cid, (src, script, files) in entries.items()},
    }, indent=4) + "\n").encode()


def tree(shape: str = "sglang", *, tag: str = "pinned", cases_dir: Path | None = None) -> dict[str, bytes]:
    """Every file of one ci-data commit: repository path -> bytes."""
    ltx = {c.id: c for c in ltx_cases(cases_dir)}
    files: dict[str, bytes] = {"README.md": b"Storage Repo for Nightly ci of SGLang\n\n"}
    # official_generated: a case map in sglang's shape, GT of the cases it lists, and more.
    entries: dict[str, tuple[str, str, list[str]]] = {
        "flux_image_t2i": ("diffusers", "repro_scripts/gen_official_diffusion_gt.py", ["flux_image_t2i_1gpu.jpg"]),
        "qwen_image_layered_i2i": ("diffusers", "repro_scripts/gen_official_diffusion_gt.py",
                                   ["qwen_image_layered_i2i_1gpu.png"]),
        "pi05_action_http": ("openpi_pytorch", "repro_scripts/gen_official_pi05_gt.py", ["pi05_action_http_1gpu.json"]),
    }
    for cid in OFFICIAL_LISTED_LTX:
        if cid in ltx:
            entries[cid] = ("ltx_official_repo", "repro_scripts/gen_official_ltx23.py",
                            sorted(key_frame_names(ltx[cid]).values()))
    files[f"{OFFICIAL}/case_map.json"] = _official_case_map(entries, shape)
    for case in ltx.values():  # unlisted ltx GT lies there too; the case map decides
        files.update(_frames(OFFICIAL, case, tag))
    files[f"{OFFICIAL}/flux_image_t2i_1gpu.jpg"] = image_bytes("official:flux", "JPEG")
    files[f"{OFFICIAL}/qwen_image_layered_i2i_1gpu.png"] = image_bytes("official:qwen_layered")
    files[f"{OFFICIAL}/pi05_action_http_1gpu.json"] = b'{"actions": [[0.0, 0.1]]}\n'
    for plat in ("h100", "5090"):
        files[f"{OFFICIAL}/{plat}/zimage_image_t2i_1gpu.jpg"] = image_bytes(f"official:{plat}:zimage", "JPEG")
    # sglang_generated: its case map lists other cases only ("notes", not "script").
    files[f"{SGLANG}/case_map.json"] = (json.dumps({"bundle_date": "2026-05-01", "cases": {
        "flux2_modelopt_nvfp4_t2i": {"source": "sglang_nvfp4", "notes": "Generated by SGLang on B200 (NVFP4).",
                                     "outputs": ["flux2_modelopt_nvfp4_t2i_1gpu.jpg"]},
        "wan22_modelopt_nvfp4_t2v": {"source": "sglang_nvfp4", "notes": "Generated by SGLang on B200 (NVFP4).",
                                     "outputs": [f"wan22_modelopt_nvfp4_t2v_1gpu_frame_{k}.png"
                                                 for k in ("0", "mid", "last")]},
    }}, indent=4) + "\n").encode()
    for case in ltx.values():
        files.update(_frames(SGLANG, case, tag))
        files.update(_frames(f"{SGLANG}/h100", case, tag))
    files[f"{SGLANG}/flux_image_t2i_1gpu.jpg"] = image_bytes("sglang:flux", "JPEG")
    files[f"{SGLANG}/qwen_image_t2i_1gpu.jpg"] = image_bytes("sglang:qwen", "JPEG")
    files[f"{SGLANG}/cosmos3_nano_t2i_1gpu.png"] = image_bytes("sglang:cosmos")
    files[f"{SGLANG}/h100/flux_image_t2i_2_gpus_2gpu.jpg"] = image_bytes("h100:flux2gpu", "JPEG")
    files[f"{SGLANG}/h100/qwen_image21_t2i_tp2_2gpu.png"] = image_bytes("h100:qwen21")
    files[f"{SGLANG}/h100/ltx_2_5_diffusion_decoder_2gpus_2gpu_audio.wav"] = b"RIFF\x24\x00\x00\x00WAVEfmt "
    files[f"{SGLANG}/h100/minimax_h3_t2va_2gpu_h100.provenance.json"] = b'{"generated_by": "sglang"}\n'
    for k in ("0", "mid", "last"):
        files[f"{SGLANG}/b200/wan22_modelopt_nvfp4_t2v_1gpu_frame_{k}.png"] = image_bytes(f"b200:wan22:{k}")
        files[f"{SGLANG}/5090/wan2_1_t2v_1.3b_1gpu_frame_{k}.png"] = image_bytes(f"5090:wan21:{k}")
    files[f"{SGLANG}/b200/flux2_modelopt_nvfp4_t2i_1gpu.jpg"] = image_bytes("b200:flux2", "JPEG")
    files[f"{SGLANG}/5090/flux_image_t2i_layerwise_cpu_offload_5090_1gpu.jpg"] = image_bytes("5090:flux", "JPEG")
    files[f"{SGLANG}/ascend/flux_2_image_t2i_2npu_2gpu.jpg"] = image_bytes("ascend:flux2", "JPEG")
    files[f"{SGLANG}/ascend/wan2_1_t2v_1.3b_1_npu_1gpu_frame_0.png"] = image_bytes("ascend:wan21")
    files[f"{SGLANG}/ascend/pr-34855/ernie_image_t2i_1npu_1gpu.jpg"] = image_bytes("ascend:pr:ernie", "JPEG")
    # The older per-case layout and other assets ("1-gpu/<case>/frame_*.png", a mesh).
    for n in ("frame_0.png", "frame_mid.png", "frame_last.png"):
        files[f"{GT}/1-gpu/wan2_1_t2v_1.3b/{n}"] = image_bytes(f"old:wan21:{n}")
        files[f"{GT}/2-gpu/wan2_1_t2v_14b_2gpu/{n}"] = image_bytes(f"old:wan14:{n}")
    files[f"{GT}/1-gpu/hunyuan3d_2_0/hunyuan3d.glb"] = b"glTF\x02\x00\x00\x00"
    files[f"{GT}/1-gpu/ltx_2_two_stage_t2v/frame_0.png"] = image_bytes("old:ltx2")
    files["diffusion-ci/repro_scripts/official_repro_case_map.json"] = (json.dumps({
        "summary": {"total_cases": 27}, "case_mappings": [{"case_id": "ltx_2.3_one_stage_ti2v",
                                                           "report_status": "official_comparable"}]}) + "\n").encode()
    files["diffusion-ci/repro_scripts/gen_official_ltx23.py"] = b"# official LTX-2.3 GT script (not run here)\n"
    files["diffusion-comparisons/2026-05-03_25273556957.json"] = b'{"cases": []}\n'
    return files


@dataclass
class CiData:
    """A bare repository in ci-data's shape; ``pinned`` is the commit tests read."""

    repo: Path
    pinned: str
    later: str
    files: dict[str, bytes] = field(default_factory=dict)  # the pinned commit's tree
    later_files: dict[str, bytes] = field(default_factory=dict)

    def expected_folder(self, case: Case, platform: str | None) -> str:
        """design.md §2: official only for official cases its case map lists; the platform
        subfolder before the default (no official platform folder has a case map here)."""
        if case.is_official and case.id in OFFICIAL_LISTED_LTX:
            return OFFICIAL
        return f"{SGLANG}/{platform}" if platform else SGLANG


def build(root: Path, shape: str = "sglang", cases_dir: Path | None = None) -> CiData:
    """Commit the pinned tree, then a later one that rewrites the ltx GT; push both to a bare repo."""
    work, bare = root / "work", root / "ci-data.git"
    gitutil.git("init", "-q", "-b", "main", str(work))
    gitutil.git("init", "-q", "--bare", str(bare))
    trees = [tree(shape, tag="pinned", cases_dir=cases_dir), tree(shape, tag="later", cases_dir=cases_dir)]
    shas = []
    for i, files in enumerate(trees):
        for rel, data in files.items():
            p = work / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        gitutil.git("add", "-A", cwd=work)
        gitutil.git("-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "commit", "-qm",
                    f"bundle {i}", cwd=work)
        shas.append(gitutil.out("rev-parse", "HEAD", cwd=work))
    gitutil.git("push", "-q", str(bare), "main", cwd=work)
    return CiData(repo=bare, pinned=shas[0], later=shas[1], files=trees[0], later_files=trees[1])
