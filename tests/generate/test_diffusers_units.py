"""The diffusers backend's pieces, without running a model: tokenizer counts, sglang's size rules,
output conversion, strict call arguments, tiny-only overrides, pinned inputs; and the runner's
manifest merge with a stub backend."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gt_gen.cases import load_registry
from gt_gen.errors import ConfigError, GenerationError, IntegrityError
from gt_gen.generate.backends import CaseOutput, Resolved
from gt_gen.generate.backends.diffusers import backend as dbe
from gt_gen.generate.backends.diffusers import inputs
from gt_gen.generate.manifest import load_previous
from gt_gen.generate.progress import Progress
from gt_gen.generate.runner import GroupRun

REG = load_registry()


def test_qwen_template_prefixes_keep_their_real_token_counts() -> None:
    """Qwen-Image drops the first 34 template tokens (64 for edit): the tiny tokenizer must make
    exactly those counts, or the user's prompt would be dropped instead."""
    from diffusers import QwenImageEditPlusPipeline, QwenImagePipeline

    from gt_gen.generate.backends.diffusers.tiny.tokenizers import qwen_tokenizer

    tok = qwen_tokenizer()
    for cls, start in ((QwenImagePipeline, 34), (QwenImageEditPlusPipeline, 64)):
        import inspect

        src = inspect.getsource(cls.__init__)
        template = next(line.split("=", 1)[1].strip().strip('"') for line in src.splitlines()
                        if "prompt_template_encode = " in line).replace("\\n", "\n")
        assert f"self.prompt_template_encode_start_idx = {start}" in src
        prefix = template.split("{}")[0]
        ids = tok(prefix)["input_ids"]
        assert len(ids) == start, (cls.__name__, len(ids))


@settings(max_examples=60, deadline=None)
@given(st.integers(16, 3000), st.integers(16, 3000))
def test_flux_size_rule(w: int, h: int) -> None:
    img = SimpleNamespace(size=(w, h))
    got = inputs.flux_size(img, 1024 * 1024)
    if got is None:
        assert w % 16 == 0 and h % 16 == 0 and w * h <= 1024 * 1024
    else:
        gw, gh = got
        assert gw % 16 == 0 and gh % 16 == 0 and gw * gh <= 1024 * 1024 and gw <= w and gh <= h


def test_qwen_edit_size_rule() -> None:
    assert inputs.qwen_edit_size(SimpleNamespace(size=(1024, 1536)), 1024 * 1024) == (832, 1248)
    assert inputs.qwen_edit_size(SimpleNamespace(size=(64, 64)), 64 * 64) == (64, 64)


def test_layered_output_is_layer_zero_without_alpha() -> None:
    case = REG.get("qwen_image_layered_i2i")
    layers = [Image.new("RGBA", (8, 8), (10 * i, 20, 30, 0)) for i in range(4)]
    frames, info = dbe.to_rgb_frames(case, SimpleNamespace(images=[layers]))
    assert frames.shape == (1, 8, 8, 3) and frames.dtype == torch.uint8
    assert frames[0, 0, 0].tolist() == [0, 20, 30] and info["layers"] == 4 and info["gt_layer"] == 0


def test_video_frames_are_truncated_as_sglang() -> None:
    case = REG.get("wan2_1_t2v_1.3b")
    arr = np.full((1, 2, 4, 4, 3), 0.999, dtype=np.float32)
    arr[0, 1] = 1.7
    frames, _ = dbe.to_rgb_frames(case, SimpleNamespace(frames=arr))
    assert frames.shape == (2, 4, 4, 3) and frames[0, 0, 0, 0] == 254 and frames[1, 0, 0, 0] == 255


class FakePipe:
    def __call__(self, prompt: str, num_inference_steps: int, width: int, height: int,
                 guidance_scale: float = 1.0, max_sequence_length: int = 512,
                 generator: Any = None, output_type: str = "pil") -> None:
        raise AssertionError("not called")


def test_call_arguments_are_strict_and_recorded() -> None:
    case = REG.get("tiny_flux_t2i")
    kw, record = dbe.DiffusersBackend(torch.device("cpu")).call_kwargs(case, FakePipe())
    assert kw == {"prompt": case.request.prompt, "num_inference_steps": 2, "width": 64, "height": 64,
                  "guidance_scale": 3.5, "max_sequence_length": 32}
    assert record == kw
    qwen = REG.get("tiny_qwen_image_t2i")  # true_cfg_scale: FakePipe does not take it
    with pytest.raises(GenerationError, match=r"does not take \['negative_prompt', 'true_cfg_scale'\]"):
        dbe.DiffusersBackend(torch.device("cpu")).call_kwargs(qwen, FakePipe())


def test_tiny_overrides_are_tiny_only_and_restored() -> None:
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as mod

    before = (mod.VAE_IMAGE_SIZE, mod.CONDITION_IMAGE_SIZE)
    with dbe.tiny_overrides(REG.get("tiny_qwen_image_edit_plus_ti2i")) as rec:
        assert mod.VAE_IMAGE_SIZE == 64 * 64 and rec[f"{dbe.EDIT_PLUS_MODULE}.VAE_IMAGE_SIZE"] == 4096
    assert (mod.VAE_IMAGE_SIZE, mod.CONDITION_IMAGE_SIZE) == before == (1024 * 1024, 384 * 384)
    with dbe.tiny_overrides(REG.get("qwen_image_edit_2509_ti2i")) as rec:
        assert rec == {} and mod.VAE_IMAGE_SIZE == 1024 * 1024


def test_inputs_are_pinned(cases_dir: Path) -> None:
    from gt_gen.cases import load_registry as load

    case = load(cases_dir).get("tiny_qwen_image_edit_plus_ti2i")
    images, record = inputs.load_images(case)
    assert [im.size for im in images] == [(64, 48), (64, 64)] and record[0]["mode"] == "RGB"
    (cases_dir / "assets" / "tiny_edit_b_64x64.png").write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="does not match the pinned"):
        inputs.load_images(case)
    with pytest.raises(ConfigError, match="not pinned"):
        inputs.load_images(REG.get("qwen_image_edit_ti2i"))


def test_flux2_inputs_under_64px_are_refused_up_front(cases_dir: Path) -> None:
    import hashlib

    from gt_gen.cases import load_registry as load
    from gt_gen.generate.backends.diffusers.spec import InputImage

    small = cases_dir / "assets" / "small.png"
    Image.new("RGB", (48, 96)).save(small)
    case = load(cases_dir).get("tiny_flux2_t2i")
    fam = dataclasses.replace(case.request.family, images=(InputImage(
        path="assets/small.png", sha256=hashlib.sha256(small.read_bytes()).hexdigest()),))
    case = dataclasses.replace(case, request=dataclasses.replace(case.request, family=fam))
    with pytest.raises(ConfigError, match="under 64 px"):
        inputs.load_images(case)


# -- the runner: merge into an existing output folder ------------------------------------------
class StubBackend:
    """Answers every case with a small frame that encodes its seed."""

    name = "diffusers"

    def resolve(self, case: Any, profile: str, **_: Any) -> Resolved:
        return Resolved(paths=None, provenance={"repo": "stub"})

    def run(self, case: Any, resolved: Any) -> CaseOutput:
        frames = torch.full((1, 16, 16, 3), case.request.seed % 256, dtype=torch.uint8)
        return CaseOutput(frames=frames, audio_waveform=None, audio_sample_rate=None,
                          pipeline_class="stub", manifest={"implementation": "stub"})

    def tiny(self, case: Any) -> Path:
        return Path(".")

    def release(self) -> None:
        pass

    @contextlib.contextmanager
    def session(self, cases: Any, progress: Any) -> Iterator[None]:
        yield

    def write_video(self, case: Any, out: Any, path: Path) -> None:
        raise AssertionError("images only")

    def finish(self, case: Any, out: Any, out_dir: Path) -> dict[str, Any]:
        return {}


def _run(cases: list, out: Path) -> dict:
    assert GroupRun(cases, out, progress=Progress(quiet=True), backends={"diffusers": StubBackend()}).run() == 0
    return json.loads((out / "manifest.json").read_text())


def test_a_second_run_merges_into_the_manifest(tmp_path: Path) -> None:
    """``generate --case X --out DIR`` into an existing GT folder keeps the other cases' entries
    (before: the manifest held X alone while the other files stayed, and compare refused)."""
    a, b = REG.get("tiny_flux_t2i"), REG.get("tiny_zimage_t2i")
    first = _run([a, b], tmp_path)
    again = _run([dataclasses.replace(a, request=dataclasses.replace(a.request, seed=7))], tmp_path)
    assert set(again["cases"]) == {a.id, b.id}
    assert again["cases"][b.id] == first["cases"][b.id]  # untouched
    assert again["cases"][a.id]["seed"] == 7 and again["summary"] == {"cases": 1, "failed": 0}
    assert again["previous_runs"][0]["cases"] == sorted([a.id, b.id])
    import hashlib

    from gt_gen.store.integrity import parse_manifest  # the folder verifies as a whole

    listed = parse_manifest((tmp_path / "manifest.json").read_bytes(), "manifest.json")
    on_disk = {p.name for p in tmp_path.iterdir()} - {"manifest.json"}
    assert set(listed) == on_disk
    assert all(hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() == h for n, h in listed.items())


def test_a_foreign_manifest_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "something-else", "cases": {}}))
    with pytest.raises(ConfigError, match="did not write"):
        GroupRun([REG.get("tiny_flux_t2i")], tmp_path, progress=Progress(quiet=True),
                 backends={"diffusers": StubBackend()}).run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError):
        load_previous(tmp_path)
