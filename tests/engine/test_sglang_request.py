"""What gt-gen asks an sglang 0.5.23 server for: exactly the case, or a clear refusal."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gt_gen.cases import load_registry
from gt_gen.engine.sglang_request import (
    LTX23_HQ_SERVER_GUIDANCE, LTX23_SERVER_GUIDANCE, CannotHonour, ServerInfo, check_server,
    guidance_field, prepare)
from tests.engine.fake_sglang import _IMAGE_FIELDS, _VIDEO_FIELDS, FakeSglang, Invalid

REG = load_registry()
TINY = REG.select(group="tiny")
BLOCKS = frozenset({"video_stg_blocks", "audio_stg_blocks"})


def test_tiny_request_is_the_case_field_by_field() -> None:
    case = REG.get("tiny_one_stage_t2v")
    body = prepare(case, server_fields=BLOCKS).body
    r = case.request
    assert body == {"prompt": r.prompt, "size": "64x64", "num_frames": 9, "fps": 24, "seed": 42,
                    "num_inference_steps": 2, "negative_prompt": "blurry out of focus",
                    "output_quality": "default", "video_stg_blocks": [1], "audio_stg_blocks": [1],
                    "generator_device": "cuda"}
    assert type(body["fps"]) is int


def test_empty_negative_prompt_is_sent_explicitly() -> None:
    case = REG.get("tiny_hq_ti2v")
    case = dataclasses.replace(case, request=dataclasses.replace(case.request, negative_prompt=""))
    body = prepare(case).body
    assert "negative_prompt" in body and body["negative_prompt"] == ""


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1, max_value=240, allow_nan=False))
def test_fps_is_an_int_or_the_case_fails(fps: float) -> None:
    base = REG.get("tiny_hq_ti2v")
    case = dataclasses.replace(base, request=dataclasses.replace(base.request, fps=fps))
    if fps.is_integer():
        body = prepare(case).body
        assert body["fps"] == int(fps) and type(body["fps"]) is int
        FakeSglang._validate(FakeSglang.__new__(FakeSglang), dict(body), _VIDEO_FIELDS)
    else:
        with pytest.raises(CannotHonour, match="integer fps"):
            prepare(case)


def test_guidance_the_request_cannot_carry_fails_unless_the_server_applies_it() -> None:
    with pytest.raises(CannotHonour) as exc:
        prepare(REG.get("tiny_two_stage_t2v"))
    msg = str(exc.value)
    assert "request.guidance.stg_blocks=[1]" in msg and "audio_stg_blocks" in msg
    assert "server applies [28]" in msg and "--server-fields video_stg_blocks" in msg
    assert "cfg_scale" not in msg  # 3.0 is what the server applies anyway
    body = prepare(REG.get("tiny_hq_ti2v")).body  # its guidance is the HQ server's own
    assert not any(k.startswith(("video_", "audio_")) for k in body)
    assert body["reference_url"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("key", sorted(LTX23_SERVER_GUIDANCE))
def test_every_guidance_key_that_differs_is_refused_or_sent(key: str) -> None:
    base = REG.get("tiny_hq_ti2v")
    value = [3] if isinstance(LTX23_HQ_SERVER_GUIDANCE[key], list) else LTX23_HQ_SERVER_GUIDANCE[key] + 1
    case = dataclasses.replace(base, request=dataclasses.replace(base.request, guidance={key: value}))
    with pytest.raises(CannotHonour, match=f"request.guidance.{key}="):
        prepare(case)
    assert prepare(case, server_fields=frozenset({guidance_field(key)})).body[guidance_field(key)] == value


@pytest.mark.parametrize(("key", "value"), [("frame", 1), ("strength", 0.5), ("crf", 0)])
def test_conditioning_the_server_cannot_express_fails(key: str, value) -> None:
    base = REG.get("tiny_hq_ti2v")
    img = dataclasses.replace(base.request.image, **{key: value})
    case = dataclasses.replace(base, request=dataclasses.replace(base.request, image=img))
    with pytest.raises(CannotHonour, match=f"request.image.{key}"):
        prepare(case)


def test_a_tampered_conditioning_image_is_not_sent(tmp_path: Path) -> None:
    base = REG.get("tiny_hq_ti2v")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "tiny_ti2v_64x64.png").write_bytes(b"\x89PNG\r\n\x1a\nnot the pinned image")
    case = dataclasses.replace(base, source=str(tmp_path / "tiny.toml"))
    with pytest.raises(CannotHonour, match="not the pinned"):
        prepare(case)


def test_official_ltx_case_is_sent_explicitly_with_sglangs_extras() -> None:
    case = REG.get("ltx_2.3_one_stage_ti2v")
    body = prepare(case).body
    r = case.request
    assert body["model"] == "Lightricks/LTX-2.3" and body["size"] == "768x512"
    assert (body["num_frames"], body["fps"], body["num_inference_steps"], body["seed"]) == (25, 24, 30, 42)
    assert body["negative_prompt"] == r.negative_prompt and body["quality"] == "exact"
    assert body["reference_url"] == r.image.url and body["generator_device"] == "cuda"
    assert not any(k.startswith(("video_", "audio_")) for k in body)


def test_native_case_sends_sglangs_own_request() -> None:
    req = prepare(REG.get("wan2_1_t2v_1.3b_teacache_enabled"))
    assert req.mode == "sglang" and req.path == "/v1/videos"
    assert req.body == {"model": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "prompt": "A curious raccoon",
                        "size": "", "seconds": 1, "generator_device": "cuda",
                        "output_quality": "default", "enable_teacache": True, "quality": "exact"}
    ti2v = prepare(REG.get("ltx_2_3_two_stage_ti2v_2gpus")).body
    assert ti2v["reference_url"].startswith("https://is1-ssl.mzstatic.com/") and ti2v["size"] == ""
    img = prepare(REG.get("flux1_modelopt_fp8_t2i"))
    assert img.path == "/v1/images/generations" and img.body["output_format"] == "png"
    assert (img.body["num_inference_steps"], img.body["seed"], img.body["size"]) == (12, 0, "768x768")
    edit = prepare(REG.get("flux_2_ti2i_multi_image_cache_dit"))
    assert edit.path == "/v1/images/edits" and [v for k, v in edit.form if k == "url"] == list(
        REG.get("flux_2_ti2i_multi_image_cache_dit").sglang.sampling.image_urls)
    assert ("quality", "exact") in edit.form and ("output_format", "png") in edit.form


@pytest.mark.parametrize("cid", sorted(c.id for c in REG.cases))
def test_every_registry_request_passes_sglangs_request_models(cid: str) -> None:
    """Types (int fps, ...) and field names as sglang 0.5.23's models declare them; the only
    other fields are the case's model-owned extras from sglang's own definition."""
    case = REG.get(cid)
    try:
        req = prepare(case)
    except CannotHonour as exc:
        assert case.group == "tiny" and "stg_blocks" in str(exc)
        req = prepare(case, server_fields=BLOCKS)
    fake = FakeSglang.__new__(FakeSglang)
    extras = case.sglang.sampling.extras if case.sglang and case.sglang.sampling else {}
    fake.model_fields = frozenset(extras) | BLOCKS
    if req.form is not None:
        from tests.engine.fake_sglang import _EDIT_FIELDS

        payload = {k: v for k, v in req.form if k != "url"}
        fake._validate(payload, {k: t for k, t in _EDIT_FIELDS.items() if k != "url"})
    else:
        fields = _VIDEO_FIELDS if req.path == "/v1/videos" else _IMAGE_FIELDS
        fake._validate(dict(req.body), fields)


def test_the_fake_rejects_what_sglang_would_not_take() -> None:
    fake = FakeSglang.__new__(FakeSglang)
    fake.model_fields = frozenset()
    for body, needle in (({"prompt": "p", "fps": 23.976}, "fractional"),
                         ({"prompt": "p", "fps": True}, "boolean"),
                         ({"prompt": "p", "size": "64"}, "WIDTHxHEIGHT"),
                         ({"prompt": "p", "video_stg_blocks": [1]}, "undeclared"),
                         ({"prompt": "p", "output_quality": "lossless"}, "output_quality"),
                         ({"prompt": "p", "quality": "best"}, "quality"),
                         ({"size": "64x64"}, "prompt")):
        with pytest.raises(Invalid, match=needle):
            fake._validate(dict(body), _VIDEO_FIELDS)
    assert fake._validate({"prompt": "p", "fps": 24.0, "extra_body": {"seed": 3}}, _VIDEO_FIELDS) == {
        "prompt": "p", "fps": 24, "seed": 3}


def test_server_check_names_what_differs() -> None:
    case = REG.get("ltx_2_3_hq_pipeline")
    assert check_server(case, None) == []
    ok = ServerInfo(model_path="Lightricks/LTX-2.3", num_gpus=1, pipeline_class="LTX2TwoStageHQPipeline")
    assert check_server(case, ok) == []
    bad = check_server(case, ServerInfo(model_path="Lightricks/LTX-2", num_gpus=2,
                                        pipeline_class="LTX2TwoStagePipeline"))
    assert len(bad) == 3 and "Lightricks/LTX-2.3" in bad[0] and "LTX2TwoStageHQPipeline" in bad[2]
    assert check_server(REG.get("tiny_one_stage_t2v"), ok) == []  # no sglang facts: nothing to check


def _family_case(tmp_path: Path | None = None, **family):
    """An official image case of a diffusers family (the shape of gt-gen's diffusers cases)."""
    from gt_gen.generate.backends.diffusers.spec import FamilyRequest

    base = REG.get("tiny_one_stage_t2v")
    req = dataclasses.replace(base.request, num_frames=1, guidance={},
                              family=FamilyRequest(**({"family": "qwen_image"} | family)))
    case = dataclasses.replace(base, modality="image", request=req)
    return dataclasses.replace(case, source=str(tmp_path / "g.toml")) if tmp_path else case


def test_family_fields_go_where_sglangs_models_take_them(tmp_path: Path) -> None:
    from gt_gen.generate.backends.diffusers.spec import InputImage

    t2i = prepare(_family_case(true_cfg_scale=4.0, max_sequence_length=512))
    assert t2i.path == "/v1/images/generations"
    assert (t2i.body["true_cfg_scale"], t2i.body["max_sequence_length"]) == (4.0, 512)
    edit = prepare(_family_case(true_cfg_scale=4.0, size_from_input=True,
                                images=(InputImage(url="https://example.com/in.jpg"),)))
    form = dict(edit.form)
    assert edit.path == "/v1/images/edits" and form["url"] == "https://example.com/in.jpg"
    assert "size" not in form and form["true_cfg_scale"] == "4.0" and form["num_frames"] == "1"
    layered = _family_case(num_layers=4, resolution=1024, images=(InputImage(url="https://e.com/a.png"),))
    with pytest.raises(CannotHonour, match="request.qwen_image.resolution=1024"):
        prepare(layered)
    ok = dict(prepare(layered, server_fields=frozenset({"resolution"})).form)
    assert (ok["num_frames"], ok["resolution"]) == ("4", "1024")
    # 640 (and cfg_normalize/use_en_prompt True) is what sglang's layered server applies anyway
    as_server = dataclasses.replace(layered, pipeline="QwenImageLayeredPipeline")
    as_server = dataclasses.replace(as_server, request=dataclasses.replace(
        as_server.request, family=dataclasses.replace(as_server.request.family, resolution=640,
                                                      cfg_normalize=True, use_en_prompt=True)))
    assert "resolution" not in dict(prepare(as_server).form)
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 20
    (tmp_path / "in.png").write_bytes(png)
    import hashlib

    local = _family_case(tmp_path, images=(InputImage(path="in.png", sha256=hashlib.sha256(png).hexdigest()),))
    up = prepare(local)
    assert up.files == [("image", ("in.png", png, "image/png"))]
    (tmp_path / "in.png").write_bytes(png + b"changed")
    with pytest.raises(CannotHonour, match="not the pinned"):
        prepare(local)
    cpu = prepare(_family_case(generator_device="cpu"))
    assert cpu.body["generator_device"] == "cpu"
