"""The backend contract and the diffusers case spec: registry, strict family tables, the official
cases as sglang defines them, and a case registry that stays light (no torch)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.cases import load_group_file, load_registry
from gt_gen.errors import ConfigError
from gt_gen.generate.backends import REGISTRY, load_backend
from gt_gen.generate.backends.diffusers.spec import FAMILY_KEYS, PIPELINE_FAMILY
from tests.conftest import REPO

SHA = "e7b5f20798e76166e75067087ca657c785f0fedd40c1fd00708f09edca398ac1"
BASE = '''
[[case]]
id = "c"
modality = "{modality}"
backend = "diffusers"
pipeline = "{pipeline}"
implementation = "diffusers {pipeline}"
runner = "r"
comparability = "official"
[case.model]
repo = "tiny"
revision = "seed-0"
[case.request]
prompt = "p"
width = {width}
height = 64
num_frames = {frames}
seed = 1
[case.request.{family}]
{table}
'''


def write(tmp_path: Path, *, pipeline: str = "FluxPipeline", family: str | None = None,
          table: str = "guidance_scale = 3.5", width: int = 64, frames: int = 1,
          modality: str = "image", extra: str = "") -> Path:
    path = tmp_path / "g.toml"
    path.write_text(BASE.format(pipeline=pipeline, family=family or PIPELINE_FAMILY[pipeline],
                                table=table, width=width, frames=frames, modality=modality) + extra)
    return path


def test_registry_names_every_official_backend() -> None:
    assert set(REGISTRY) == {"ltx_official", "diffusers"}
    with pytest.raises(ConfigError, match="generates no GT"):
        load_backend("sglang_native", None, "models")  # type: ignore[arg-type]


def test_valid_case_parses(tmp_path: Path) -> None:
    [case] = load_group_file(write(tmp_path))
    assert case.is_official and case.request.family.family == "flux"
    assert case.request.family.guidance_scale == 3.5 and case.implementation == "diffusers FluxPipeline"


@pytest.mark.parametrize("kw, needle", [
    ({"table": "guidance_scale = 3.5\ntrue_cfg_scale = 4.0"}, "unknown key(s) ['true_cfg_scale']"),
    ({"table": "guidance_scale = true"}, "got a boolean"),
    ({"table": "guidance_scale = \"3\""}, "must be int, got str"),
    ({"table": "guidance_scale = nan"}, "finite"),
    ({"table": "guidance_scale = 1e9"}, "must be in [0, 100]"),
    ({"family": "qwen_image", "table": "true_cfg_scale = 4.0"}, "needs a [case.request.flux] table"),
    ({"pipeline": "StableDiffusionPipeline", "family": "flux"}, "expected one of"),
    ({"width": 72}, "not a multiple of 16"),
    ({"pipeline": "WanPipeline", "modality": "video", "frames": 8}, "4k+1"),
    ({"pipeline": "WanPipeline", "frames": 1}, "makes videos"),
    ({"pipeline": "QwenImageEditPipeline", "table": "true_cfg_scale = 4.0"}, "takes 1 input image(s)"),
    ({"table": "generator_device = \"gpu\""}, "generator_device"),
    ({"pipeline": "QwenImagePipeline", "table": "num_layers = 4"}, "QwenImageLayeredPipeline only"),
    ({"extra": "[case.request.zimage]\nguidance_scale = 0.0\n"}, "several family tables"),
])
def test_invalid_family_tables_are_refused(tmp_path: Path, kw: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_group_file(write(tmp_path, **kw))
    assert needle in exc.value.one_line() and "g.toml" in exc.value.one_line()


@pytest.mark.parametrize("image, needle", [
    ('path = "x.png"', "sha256 is required"),
    (f'path = "../x.png"\nsha256 = "{SHA}"', "inside its folder"),
    (f'path = "/etc/x.png"\nsha256 = "{SHA}"', "inside its folder"),
    ('url = "ftp://x/y.png"', "http(s) URL"),
    ('path = "x.png"\nsha256 = "ABC"', "64 lowercase hex"),
    (f'path = "x.png"\nsha256 = "{SHA}"\nmode = "CMYK"', "mode must be one of"),
    (f'path = "x.png"\nsha256 = "{SHA}"\nsize = 3', "unknown key(s) ['size']"),
])
def test_input_images_are_pinned_and_inside(tmp_path: Path, image: str, needle: str) -> None:
    table = f"true_cfg_scale = 4.0\n[[case.request.qwen_image.images]]\n{image}"
    with pytest.raises(ConfigError) as exc:
        load_group_file(write(tmp_path, pipeline="QwenImageEditPipeline", table=table))
    assert needle in exc.value.one_line()


def test_layered_input_is_rgba(tmp_path: Path) -> None:
    table = f'true_cfg_scale = 4.0\n[[case.request.qwen_image.images]]\nurl = "https://x/y.png"'
    with pytest.raises(ConfigError, match="RGBA"):
        load_group_file(write(tmp_path, pipeline="QwenImageLayeredPipeline", table=table))
    [case] = load_group_file(write(tmp_path, pipeline="QwenImageLayeredPipeline",
                                   table=table + '\nmode = "RGBA"'))
    assert case.request.family.images[0].sha256 == ""  # unpinned: generation fails closed


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(PIPELINE_FAMILY)),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_any_key_outside_the_family_is_refused(pipeline: str, key: str) -> None:
    import tempfile

    family = PIPELINE_FAMILY[pipeline]
    if key in FAMILY_KEYS[family] | {"generator_device", "max_sequence_length"}:
        return
    with tempfile.TemporaryDirectory() as d:
        with pytest.raises(ConfigError, match="unknown key"):
            load_group_file(write(Path(d), pipeline=pipeline, table=f"{key} = 1",
                                  modality="video" if family == "wan" else "image",
                                  frames=9 if family == "wan" else 1))


def test_a_family_table_on_another_backend_is_refused(tmp_path: Path) -> None:
    text = write(tmp_path).read_text().replace('backend = "diffusers"', 'backend = "sglang_native"')
    text = text.replace('comparability = "official"', 'comparability = "native_only"\nreason = "x"')
    (tmp_path / "g.toml").write_text(text.replace('pipeline = "FluxPipeline"', 'pipeline = "native"'))
    with pytest.raises(ConfigError, match="belongs to backend 'diffusers'"):
        load_group_file(tmp_path / "g.toml")


OFFICIAL = {  # id: (repo, pipeline, steps, guidance key, value, size), sglang 0.5.23
    "qwen_image_t2i": ("Qwen/Qwen-Image", "QwenImagePipeline", 50, "true_cfg_scale", 4.0, (1024, 1024)),
    "qwen_image_edit_ti2i": ("Qwen/Qwen-Image-Edit", "QwenImageEditPipeline", 50, "true_cfg_scale", 4.0, None),
    "qwen_image_edit_2509_ti2i": ("Qwen/Qwen-Image-Edit-2509", "QwenImageEditPlusPipeline", 40,
                                  "true_cfg_scale", 4.0, None),
    "qwen_image_edit_2511_ti2i": ("Qwen/Qwen-Image-Edit-2511", "QwenImageEditPlusPipeline", 40,
                                  "true_cfg_scale", 4.0, None),
    "qwen_image_layered_i2i": ("Qwen/Qwen-Image-Layered", "QwenImageLayeredPipeline", 50,
                               "true_cfg_scale", 4.0, None),
    "flux_image_t2i": ("black-forest-labs/FLUX.1-dev", "FluxPipeline", 50, "guidance_scale", 3.5, (1024, 1024)),
    "flux_2_image_t2i": ("black-forest-labs/FLUX.2-dev", "Flux2Pipeline", 50, "guidance_scale", 4.0, (1024, 1024)),
    "flux_2_ti2i": ("black-forest-labs/FLUX.2-dev", "Flux2Pipeline", 50, "guidance_scale", 4.0, None),
    "flux_2_klein_image_t2i": ("black-forest-labs/FLUX.2-klein-4B", "Flux2KleinPipeline", 4,
                               "guidance_scale", 1.0, (1024, 1024)),
    "zimage_image_t2i": ("Tongyi-MAI/Z-Image-Turbo", "ZImagePipeline", 9, "guidance_scale", 0.0, (1024, 1024)),
    "wan2_1_t2v_1.3b": ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "WanPipeline", 50, "guidance_scale", 3.0, (832, 480)),
}


def test_official_diffusers_and_wan_cases_are_sglangs() -> None:
    reg = load_registry()
    cases = {c.id: c for c in reg.select(group=["diffusers", "wan"])}
    assert set(cases) == set(OFFICIAL)
    for cid, (repo, pipeline, steps, key, value, size) in OFFICIAL.items():
        c = cases[cid]
        assert (c.model.repo, c.pipeline, c.request.steps, c.request.seed) == (repo, pipeline, steps, 42)
        assert getattr(c.request.family, key) == value and c.is_official and c.gpus == 1
        assert c.sglang is not None and c.sglang.status == "official_comparable"
        assert c.sglang.server_args is not None and c.sglang.server_args.model_path == repo
        fam = c.request.family
        if size is not None:
            assert (c.request.width, c.request.height) == size and not fam.images
        else:  # sglang sends these by URL; the size comes from the (pinned) input
            assert fam.images and all(i.url in c.sglang.sampling.image_urls for i in fam.images)
            assert all(not i.sha256 for i in fam.images)  # not downloadable here: fails closed
        assert c.runner == ("8-gpu-h200" if cid.startswith("flux_2") else "1-gpu-h100")
    assert all(c.request.prompt == "Doraemon is eating dorayaki" for i, c in cases.items()
               if i.endswith("_t2i"))
    assert cases["qwen_image_edit_2509_ti2i"].request.family.images[1].url.endswith("edit2509_2.jpg")
    layered = cases["qwen_image_layered_i2i"]
    assert layered.request.family.num_layers == 4 and layered.request.family.images[0].mode == "RGBA"
    assert layered.sglang.sampling.output_format == "png"
    wan = cases["wan2_1_t2v_1.3b"]
    assert wan.modality == "video" and wan.request.num_frames == 21 and wan.request.fps == 24
    assert "WanT2V" in wan.implementation and "diffusers" in wan.implementation
    assert wan.request.negative_prompt.startswith("Bright tones, overexposed")


def test_case_registry_stays_light() -> None:
    code = "import sys, gt_gen.cases; gt_gen.cases.load_registry(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
