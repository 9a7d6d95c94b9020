"""``[case.sglang]``: the registry carries sglang's own case definitions, checked against the
facts read from sglang 0.5.23 and ci-data (tests/data/sglang_cases.json), field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gt_gen.cases import load_group_file, load_registry
from gt_gen.errors import ConfigError
from tests.conftest import REPO

FACTS = json.loads((REPO / "tests" / "data" / "sglang_cases.json").read_text(encoding="utf-8"))
REG = load_registry()
LTX = sorted(i for i, c in FACTS["cases"].items() if c["group"] == "ltx")
NATIVE = sorted(i for i, c in FACTS["cases"].items() if c["group"] == "sglang_native")
SERVER_DEFAULTS = {"num_gpus": 1, "tp_size": None, "ulysses_degree": None, "ring_degree": None,
                   "cfg_parallel": False, "lora_path": "", "dynamic_lora_path": "",
                   "second_lora_path": "", "enable_cache_dit": False, "dit_layerwise_offload": False,
                   "dit_offload_prefetch_size": None, "text_encoder_cpu_offload": False,
                   "extras": [], "env": {}}


def test_every_gated_case_of_sglang_is_known() -> None:
    """Every case sglang's threshold files gate is in the registry or owned by the diffusers/Wan
    files (helper H6); the ones sglang marks not comparable too."""
    gated = set(FACTS["thresholds_h100_case_ids"]) | {
        i for ids in FACTS["threshold_extra_case_ids"].values() for i in ids}
    assert len(FACTS["thresholds_h100_case_ids"]) == 47
    known = {c.id for c in REG.cases} | set(FACTS["h6_owned_case_ids"])
    assert gated <= known, sorted(gated - known)
    for cid in ("fast_hunyuan_video", "wan2_2_ti2v_5b", "flux_2_klein_base_image_t2i"):
        case = REG.get(cid)
        assert case.comparability == "not_comparable" and case.reason


def test_no_case_of_the_diffusers_and_wan_files_is_defined_here() -> None:
    mine = {c.id for c in REG.cases if c.group in ("ltx", "sglang_native")}
    assert not mine & set(FACTS["h6_owned_case_ids"])
    assert {c.id for c in REG.select(group="sglang_native")} == set(NATIVE)
    assert {c.id for c in REG.select(group="ltx")} == set(LTX)


@pytest.mark.parametrize("cid", sorted(FACTS["cases"]))
def test_registry_equals_sglang_facts(cid: str) -> None:
    fact, case = FACTS["cases"][cid], REG.get(cid)
    assert case.group == fact["group"] and case.modality == fact["modality"]
    assert case.gpus == fact["num_gpus"] and case.comparability == fact["comparability"]
    assert case.reason == fact["reason"] and case.runner == fact["runner"]
    assert case.pipeline == fact["pipeline"]
    spec = case.sglang
    assert spec is not None and spec.source == fact["source"] and spec.status == fact["sglang_status"]
    server = dict(vars(spec.server_args))
    server["extras"] = list(server["extras"])
    assert server == SERVER_DEFAULTS | fact["server_args"]
    sampling = dict(vars(spec.sampling))
    sampling["image_urls"] = list(sampling["image_urls"])
    want = {"output_size": "", "seconds": 1, "num_frames": None, "fps": None, "image_urls": [],
            "direct_url_test": False, "output_format": ""} | fact["sampling"]
    assert sampling == want
    r, fr = case.request, fact["request"]
    for key in ("prompt", "negative_prompt", "width", "height", "num_frames", "steps", "seed"):
        assert getattr(r, key) == fr[key], key
    if case.modality == "video":
        assert r.fps == fr["fps"]
    assert r.guidance == fr.get("guidance", {})
    if "image" in fr:
        assert r.image is not None
        for key, value in fr["image"].items():
            assert getattr(r.image, key) == value, key
    else:
        assert r.image is None
    for key, value in fact["model"].items():
        assert getattr(case.model, key) == value, key
    assert set(fact["request_provenance"]) >= {"prompt", "width", "height", "seed"}


def test_ltx_cases_are_sglangs() -> None:
    """The facts of the issue: the raccoon, 1920x1088, the 2-GPU file names, sglang's prompts."""
    t2v = REG.get("ltx_2.3_two_stage_t2v_2gpus")
    assert t2v.request.prompt == "A curious raccoon" and t2v.is_official
    hq = REG.get("ltx_2_3_hq_pipeline")
    assert (hq.request.width, hq.request.height, hq.request.steps) == (1920, 1088, 15)
    assert (hq.model.distilled_lora_strength, hq.model.distilled_lora_strength_stage_2) == (0.25, 0.5)
    for cid in ("ltx_2.3_one_stage_ti2v", "ltx_2_two_stage_t2v"):
        assert REG.get(cid).gpus == 2  # ci-data names them ..._2gpu_frame_*.png
    one = REG.get("ltx_2.3_one_stage_ti2v")
    assert one.request.image is not None and one.request.image.url.startswith("https://is1-ssl.mzstatic.com/")
    assert one.request.prompt.startswith("The man in the picture slowly turns his head")


@pytest.mark.slow  # imports ltx_pipelines (~15 s on a busy 2-core box)
def test_ltx_negative_prompt_is_the_official_default() -> None:
    from ltx_pipelines.utils.constants import DEFAULT_NEGATIVE_PROMPT

    for cid in LTX:
        assert REG.get(cid).request.negative_prompt == DEFAULT_NEGATIVE_PROMPT


@pytest.mark.slow
def test_official_ltx_guidance_equals_the_official_defaults() -> None:
    """The guidance written in the official cases is the official code's own for the checkpoint
    (so gt-gen's generator and sglang's server apply the same)."""
    from ltx_pipelines.utils.constants import LTX_2_3_HQ_PARAMS, LTX_2_3_PARAMS

    for cid, params in (("ltx_2.3_two_stage_t2v_2gpus", LTX_2_3_PARAMS),
                        ("ltx_2.3_one_stage_ti2v", LTX_2_3_PARAMS), ("ltx_2_3_hq_pipeline", LTX_2_3_HQ_PARAMS)):
        g = REG.get(cid).request.guidance
        for prefix, gp in (("", params.video_guider_params), ("audio_", params.audio_guider_params)):
            for key in ("cfg_scale", "stg_scale", "rescale_scale", "modality_scale", "skip_step", "stg_blocks"):
                assert g[prefix + key] == getattr(gp, key), (cid, prefix + key)


def test_hq_case_breaks_gt_gens_frame_rule_and_says_so() -> None:
    """sglang's official HQ GT has 24 frames; gt-gen keeps 8k+1, so the case stays native-only."""
    hq = REG.get("ltx_2_3_hq_pipeline")
    assert (hq.request.num_frames - 1) % 8 != 0 and hq.comparability == "native_only"
    assert "8k+1" in hq.reason and hq.sglang is not None and hq.sglang.status == "official_comparable"


def test_serve_command_follows_sglangs_harness() -> None:
    cmd = REG.get("ltx_2.3_two_stage_t2v_2gpus").sglang.server_args.serve_command()
    assert cmd == ("sglang serve --model-path Lightricks/LTX-2.3 --model-type diffusion --num-gpus 2 "
                   "--enable-cfg-parallel --pipeline-class-name LTX2TwoStagePipeline "
                   "--warmup-sampling-params '{\"quality\": \"exact\"}'")
    cache = REG.get("qwen_image_t2i_cache_dit_enabled").sglang.server_args.serve_command()
    assert cache.startswith("SGLANG_CACHE_DIT_ENABLED=true sglang serve --model-path Qwen/Qwen-Image")
    assert REG.get("ltx_2_3_hq_pipeline").sglang.server_args.pipeline_class_name == "LTX2TwoStageHQPipeline"


CASE = '''
[[case]]
id = "c1"
modality = "video"
backend = "sglang_native"
pipeline = "native"
gpus = 2
runner = "r"
comparability = "native_only"
reason = "test"
[case.model]
repo = "m"
revision = "main"
checkpoint = ""
[case.request]
prompt = "p"
width = 64
height = 64
num_frames = 9
seed = 1
[case.sglang]
source = "somewhere"
[case.sglang.server_args]
model_path = "m"
num_gpus = 2
[case.sglang.sampling]
prompt = "p"
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "g.toml"
    path.write_text(text)
    return path


def test_minimal_sglang_table_parses(tmp_path: Path) -> None:
    [case] = load_group_file(write(tmp_path, CASE))
    assert case.sglang is not None and case.sglang.server_args.num_gpus == 2
    assert case.sglang.sampling.seconds == 1 and case.sglang.generator_device == "cuda"


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("num_gpus = 2\n[case.sglang.sampling]", "num_gpus = 1\n[case.sglang.sampling]", "GPU count"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\noutput_size = "65x64"', "the size"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "q"', "the prompt"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\nfps = 23.976', "integer"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\nnum_frames = 10', "num_frames"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\noutput_size = "64"', "WxH"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\noutput_format = "gif"', "output_format"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\nimage_urls = ["file:///x"]', "http(s)"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\nseconds = 0', "≥ 1"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\n[case.sglang.sampling.extras]\nseed = 2', "extras.seed"),
    ('[case.sglang.sampling]\nprompt = "p"', '[case.sglang.sampling]\nprompt = "p"\ntypo = 1', "typo"),
    ('model_path = "m"\n', 'model_path = ""\n', "must not be empty"),
    ('model_path = "m"\n', 'model_path = "m"\nextras = ["--a \'unclosed"]\n', "shell-splittable"),
    ('model_path = "m"\n', 'model_path = "m"\ncfg_parallel = 1\n', "cfg_parallel"),
    ('model_path = "m"\n', 'model_path = "m"\n[case.sglang.server_args.env]\n"1BAD" = "x"\n', "variable names"),
    ('source = "somewhere"', 'source = ""', "cite"),
    ('source = "somewhere"', 'source = "s"\nstatus = "great"', "status"),
    ('source = "somewhere"', 'source = "s"\ngenerator_device = "tpu"', "generator_device"),
    ('backend = "sglang_native"', 'backend = "ltx_official"\n', "not an official LTX-2 pipeline"),
])
def test_invalid_sglang_tables_are_refused(tmp_path: Path, old: str, new: str, needle: str) -> None:
    assert old in CASE
    text = CASE.replace(old, new, 1)
    if "ltx_official" in new:
        text = text.replace('comparability = "native_only"\nreason = "test"', 'comparability = "official"')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_group_file(path)
    assert needle in str(exc.value) and exc.value.path == str(path)


def test_url_only_image_stays_unpinned_but_a_path_needs_a_digest(tmp_path: Path) -> None:
    img = '\n[case.request.image]\nurl = "https://example.com/a.jpg"\n'
    [case] = load_group_file(write(tmp_path, CASE.replace("seed = 1\n", "seed = 1" + img)))
    assert case.request.image is not None and case.request.image.sha256 == ""
    bad = CASE.replace("seed = 1\n", 'seed = 1\n[case.request.image]\npath = "a.png"\n')
    with pytest.raises(ConfigError, match="sha256"):
        load_group_file(write(tmp_path, bad))
    ftp = CASE.replace("seed = 1\n", 'seed = 1\n[case.request.image]\nurl = "ftp://x/a.jpg"\n')
    with pytest.raises(ConfigError, match="http"):
        load_group_file(write(tmp_path, ftp))
