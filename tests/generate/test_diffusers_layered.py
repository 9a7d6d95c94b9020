"""Qwen-Image-Layered on its tiny model: the tiny-only resolution-bucket override, the call it
gets, the RGBA model it runs, GT saved as sglang's official script saves a layered output (layer
0, alpha dropped, RGB PNG), an RGBA candidate compared as sglang's check compares it (PIL
``.convert("RGB")``), and the full-profile path over a loopback hub (pinned download, record,
``from_pretrained``, offline) without the 640**2 call."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import QwenImageLayeredPipeline
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gt_gen.cases import load_registry
from gt_gen.frames import read_image
from gt_gen.generate.backends.diffusers import backend as dbe
from gt_gen.generate.backends.diffusers.tiny import layered
from tests.conftest import REPO, run_cli
from tests.hub_server import Hub

REG = load_registry()
TINY = REG.get("tiny_qwen_image_layered_i2i")
FULL = REG.get("qwen_image_layered_i2i")
ASSET_SHA = "85a6fabe99dc27564fead7ddc8ca9234d5a39ec60c8f80489dcad5acb9233bf0"
AREA_KEY = f"{layered.LAYERED_MODULE}.{layered.SIZE_FUNCTION}.target_area"


def _module():  # type: ignore[no-untyped-def]
    import importlib

    return importlib.import_module(layered.LAYERED_MODULE)


def test_tiny_case_mirrors_the_official_layered_case() -> None:
    """Same pipeline, prompt, layers, bucket and flags as sglang's case; only size and steps shrink."""
    t, f = TINY.request, FULL.request
    assert TINY.pipeline == FULL.pipeline == layered.LAYERED_PIPELINE and TINY.model.is_tiny
    assert (t.prompt, t.negative_prompt, t.seed) == (f.prompt, f.negative_prompt, f.seed)
    for key in ("true_cfg_scale", "num_layers", "resolution", "cfg_normalize", "use_en_prompt"):
        assert getattr(t.family, key) == getattr(f.family, key), key
    [img] = t.family.images
    assert img.mode == "RGBA" and img.sha256 == ASSET_SHA
    with Image.open(REPO / "cases" / img.path) as pil:
        assert pil.mode == "RGBA" and pil.size == (64, 64)
        alpha = np.asarray(pil)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255 and 0 < (alpha == 255).mean() < 1  # real alpha


def test_resolution_bucket_override_is_tiny_only_and_restored() -> None:
    mod = _module()
    original = mod.calculate_dimensions
    assert original(640 * 640, 1.0) == (640, 640)
    with dbe.tiny_overrides(TINY) as rec:
        assert rec == {AREA_KEY: 64 * 64}
        assert mod.calculate_dimensions(640 * 640, 1.0) == (64, 64)
        assert mod.calculate_dimensions(1024 * 1024, 1.0) == (64, 64)
    assert mod.calculate_dimensions is original
    with dbe.tiny_overrides(FULL) as rec:  # the full profile runs the pipeline as shipped
        assert rec == {} and mod.calculate_dimensions is original
    with pytest.raises(RuntimeError), dbe.tiny_overrides(TINY):
        raise RuntimeError("a failing run still restores the module")
    assert mod.calculate_dimensions is original


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 16), st.integers(2, 16), st.floats(0.25, 4.0), st.sampled_from([640, 1024]))
def test_scaled_area_keeps_the_pipelines_rule(w16: int, h16: int, ratio: float, bucket: int) -> None:
    """Whatever the bucket, the output is the pipeline's own rounding of the tiny area at the
    input's aspect ratio (multiples of 32)."""
    original = _module().calculate_dimensions
    area = 16 * w16 * 16 * h16
    got = layered.scaled_dimensions(original, area)(bucket * bucket, ratio)
    assert got == original(area, ratio) and got[0] % 32 == 0 and got[1] % 32 == 0


def test_layered_prompt_template_prefix_is_34_tokens() -> None:
    """The layered pipeline drops its template's first 34 tokens: the tiny tokenizer must make
    exactly 34 of them, or the prompt itself would be dropped."""
    from gt_gen.generate.backends.diffusers.tiny.tokenizers import qwen_tokenizer

    src = inspect.getsource(QwenImageLayeredPipeline.__init__)
    assert "self.prompt_template_encode_start_idx = 34" in src
    template = next(line.split("=", 1)[1].strip().strip('"') for line in src.splitlines()
                    if "self.prompt_template_encode = " in line).replace("\\n", "\n")
    assert len(qwen_tokenizer()(template.split("{}")[0])["input_ids"]) == 34


class _Signature:
    """Stands for the pipeline object: only its call signature is read."""

    __call__ = QwenImageLayeredPipeline.__call__


def test_tiny_call_is_the_layered_call() -> None:
    kw, record = dbe.DiffusersBackend(torch.device("cpu")).call_kwargs(TINY, _Signature())
    image = kw.pop("image")
    assert image.mode == "RGBA" and image.size == (64, 64)
    assert kw == {"prompt": TINY.request.prompt, "num_inference_steps": 2, "negative_prompt": " ",
                  "true_cfg_scale": 4.0, "guidance_scale": None, "layers": 4, "resolution": 640,
                  "cfg_normalize": True, "use_en_prompt": True}
    assert "width" not in kw and "height" not in kw  # the pipeline sizes from bucket and input
    assert [(i["sha256"], i["mode"]) for i in record["images"]] == [(ASSET_SHA, "RGBA")]


@pytest.mark.slow
def test_tiny_model_is_the_rgba_layered_architecture() -> None:
    from gt_gen.generate.backends.diffusers.tiny import build_tiny

    folder = build_tiny("qwen_image_layered", 0)
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "QwenImageLayeredPipeline"
    assert index["processor"] == ["transformers", "Qwen2VLProcessor"]
    vae = json.loads((folder / "vae" / "config.json").read_text())
    assert vae["_class_name"] == "AutoencoderKLQwenImage" and vae["input_channels"] == 4
    tr = json.loads((folder / "transformer" / "config.json").read_text())
    assert tr["use_layer3d_rope"] and tr["use_additional_t_cond"] and not tr["zero_cond_t"]
    assert tr["in_channels"] == 64 and tr["out_channels"] == 16 and not tr["guidance_embeds"]


@pytest.mark.slow
def test_gt_is_layer_zero_as_sglang_saves_it_and_an_rgba_candidate_compares(
        tiny_gt: Path, tmp_path: Path) -> None:
    """GT: the first RGBA layer with alpha dropped, an RGB PNG (sglang's official GT script);
    candidate: sglang's server answers with the RGBA PNG of layer 0, which its check reads with
    PIL ``.convert("RGB")`` -- gt-gen's compare does the same, and says so."""
    e = json.loads((tiny_gt / "manifest.json").read_text())["cases"][TINY.id]
    assert e["status"] == "ok" and set(e["files"]) == {f"{TINY.id}_1gpu.png"}
    assert e["tiny_overrides"] == {AREA_KEY: 64 * 64}
    assert e["output"]["layers"] == 4 and e["output"]["gt_layer"] == 0
    assert e["output"]["layer_modes"] == ["RGBA"] * 4
    assert e["call"]["layers"] == 4 and e["call"]["resolution"] == 640
    assert [i["sha256"] for i in e["call"]["images"]] == [ASSET_SHA]
    gt_png = tiny_gt / f"{TINY.id}_1gpu.png"
    with Image.open(gt_png) as pil:
        assert pil.mode == "RGB" and pil.size == (64, 64)
    gt = read_image(gt_png)
    assert gt.std() > 10  # a picture, not a flat field

    # The pipeline run directly, as sglang's script calls it, on the same files.
    resolved = dbe.DiffusersBackend(torch.device("cpu")).resolve(
        TINY, "tiny", weights_dir=None, allow_unpinned=False)
    processor, _ = dbe.load_processor(Path(resolved.paths))
    with dbe.quiet_diffusers():
        pipe = QwenImageLayeredPipeline.from_pretrained(str(resolved.paths), torch_dtype=torch.bfloat16,
                                                        processor=processor)
    pipe.set_progress_bar_config(disable=True)
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    image = Image.open(REPO / "cases" / TINY.request.family.images[0].path).convert("RGBA")
    with layered.tiny_area(64, 64), torch.inference_mode():
        out = pipe(image=image, prompt=TINY.request.prompt, negative_prompt=" ", true_cfg_scale=4.0,
                   layers=4, num_inference_steps=2, resolution=640, cfg_normalize=True,
                   use_en_prompt=True, generator=torch.Generator("cpu").manual_seed(42))
    layers = out.images[0]
    assert [im.mode for im in layers] == ["RGBA"] * 4
    assert np.array_equal(np.asarray(layers[0].convert("RGB")), gt)
    assert not np.array_equal(np.asarray(layers[1].convert("RGB")), gt)  # layer 0, not another

    cand = tmp_path / "cand"
    cand.mkdir()
    layers[0].save(cand / f"{TINY.id}_1gpu.png")  # RGBA, as sglang's server returns it
    proc = run_cli("compare", "--group", "tiny", "--case", TINY.id, "--gt", str(tiny_gt),
                   "--candidate", str(cand), "--out", str(tmp_path / "cmp"), "--clip-model", "none")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [res] = json.loads((tmp_path / "cmp" / "results.json").read_text())["cases"]
    assert res["status"] == "passed" and res["candidate_image_mode"] == "RGBA->RGB"
    assert res["gt_image_mode"] == "RGB"


DRIVER = """
import dataclasses, json, sys
import torch
from gt_gen.cases import load_registry
from gt_gen.generate.backends.diffusers import backend as dbe
from gt_gen.generate.backends.diffusers.weights import resolve_full
base = load_registry().get("qwen_image_layered_i2i")
case = dataclasses.replace(base, model=dataclasses.replace(base.model, repo=sys.argv[1], revision=sys.argv[2]))
b = dbe.DiffusersBackend(torch.device("cpu"))
resolved = resolve_full(case)
pipe, how = b.pipeline(case, resolved)
with dbe.tiny_overrides(case) as rec:
    overrides = rec
print(json.dumps({"prov": resolved.provenance, "class": type(pipe).__name__, "processor": how,
                  "vae_in": pipe.vae.config.input_channels, "overrides": overrides,
                  "eval": all(not m.training for m in pipe.components.values() if isinstance(m, torch.nn.Module))}))
"""


@pytest.mark.slow
def test_full_profile_downloads_pinned_then_serves_offline(tmp_path: Path) -> None:
    from gt_gen.generate.backends.diffusers.tiny import build_tiny

    token, commit, repo = "hf_LoopbackLayeredToken0123456789", "c" * 40, "acme/qwen_image_layered-tiny"
    folder = build_tiny("qwen_image_layered", 0)
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
             if p.is_file() and p.name != "files.json"}
    hub = Hub({repo: (commit, files)})
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_TOKEN": token, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1"}

    def load(extra: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", DRIVER, repo, commit], capture_output=True,
                              text=True, cwd=REPO, env=env | extra, timeout=300)

    try:
        proc = load({})
        assert proc.returncode == 0, proc.stderr[-3000:]
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        prov = got["prov"]
        assert prov["resolved_commit"] == commit and prov["source"] == "hub" and prov["repo"] == repo
        assert {f for f in files if f.endswith((".safetensors", "model_index.json"))} <= set(prov["files_sha256"])
        assert got["class"] == "QwenImageLayeredPipeline" and got["vae_in"] == 4 and got["eval"]
        assert got["overrides"] == {}  # the tiny-only bucket override is off in the full profile
        assert hub.log and all(auth == f"Bearer {token}" for _, _, auth in hub.log)
        assert token not in proc.stdout + proc.stderr
        n = len(hub.log)
        offline = load({"HF_HUB_OFFLINE": "1"})
        assert offline.returncode == 0, offline.stderr[-3000:]
        assert json.loads(offline.stdout.strip().splitlines()[-1])["prov"]["files_sha256"] == prov["files_sha256"]
        assert len(hub.log) == n  # served from the cache: not one request
    finally:
        hub.close()
