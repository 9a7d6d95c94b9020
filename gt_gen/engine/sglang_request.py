"""The exact request a case makes of an sglang 0.5.23 server, or why the server cannot honour it.

Why one module: what reaches the engine must be the case, or the comparison measures something
else. Two shapes, both accepted by sglang 0.5.23's OpenAI-compatible routers
(``runtime/entrypoints/openai/{protocol,video_api,image_api,utils}.py``):

* **sglang's own request** for a case whose GT sglang generated (not ``official``) and whose
  ``[case.sglang.sampling]`` says what sglang's test client sends: that request, field for
  field (``size``/``seconds`` left to the server exactly as sglang leaves them, its extras merged
  into the body as the OpenAI client merges ``extra_body``). Only the output encoding is
  asked for explicitly (lossless PNG for images unless the case names a format; the video
  quality sglang's CI gets, ``default``).
* **the case's request, explicit**, for official cases (GT from the official code) and cases
  without sglang facts: size, frames, int fps, steps, seed, negative prompt (sent even when
  empty, so the model's long default is not used), noise device, input image, plus sglang's
  extras (e.g. ``quality = "exact"``). A field the case needs that the request model cannot
  carry (LTX guidance, the conditioning image's frame/strength/crf, a non-integer fps) fails the
  case with "server cannot honour ..." unless the server applies exactly that value anyway (its
  fixed LTX-2.3 defaults, below) or was launched with a model that declares the field
  (``--server-fields``).

Nothing here touches the network; :mod:`gt_gen.engine.sglang_client` sends what this builds.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gt_gen.cases import Case

#: The video quality sglang's CI requests (it sends none; the request model's default applies:
#: output compression 50, i.e. libx264 crf 25 — runtime/entrypoints/openai/utils.py).
VIDEO_OUTPUT_QUALITY = "default"
#: Images are asked for losslessly unless the case's sglang sampling names a format.
DEFAULT_IMAGE_FORMAT = "png"
#: The noise device sglang's request models apply when a request names none.
DEFAULT_GENERATOR_DEVICE = "cuda"

#: LTX-2.3 guider values sglang 0.5.23 applies and its /v1/videos request cannot change
#: (configs/sample/ltx_2.py: LTX23SamplingParams; LTX23HQSamplingParams for the HQ pipeline).
#: Keys in gt-gen's ``request.guidance`` naming.
LTX23_SERVER_GUIDANCE: dict[str, Any] = {
    "cfg_scale": 3.0, "stg_scale": 1.0, "rescale_scale": 0.7, "modality_scale": 3.0,
    "skip_step": 0, "stg_blocks": [28], "audio_cfg_scale": 7.0, "audio_stg_scale": 1.0,
    "audio_rescale_scale": 0.7, "audio_modality_scale": 3.0, "audio_skip_step": 0,
    "audio_stg_blocks": [28]}
LTX23_HQ_SERVER_GUIDANCE: dict[str, Any] = {
    "cfg_scale": 3.0, "stg_scale": 0.0, "rescale_scale": 0.45, "modality_scale": 3.0,
    "skip_step": 0, "stg_blocks": [], "audio_cfg_scale": 7.0, "audio_stg_scale": 0.0,
    "audio_rescale_scale": 1.0, "audio_modality_scale": 3.0, "audio_skip_step": 0,
    "audio_stg_blocks": []}
#: sglang conditions an LTX video on the first frame at full strength, re-encoded at crf 33
#: (runtime/pipelines_core/stages/image_encoding.py).
SERVER_IMAGE_CONDITIONING = {"frame": 0, "strength": 1.0, "crf": 33}
_LTX_PIPELINES = ("one_stage", "two_stage", "two_stage_hq", "distilled")


def guidance_field(key: str) -> str:
    """The LTX-2.3 sampling field a server would take for a gt-gen guidance key."""
    return key if key.startswith("audio_") else f"video_{key}"


@dataclass
class PreparedRequest:
    """One HTTP request for one case."""

    path: str
    body: dict[str, Any] = field(default_factory=dict)
    #: multipart form fields (``/v1/images/edits``); ``body`` is then empty
    form: list[tuple[str, str]] | None = None
    #: multipart file parts ``(field, (filename, bytes, mime))`` (pinned local input images)
    files: list[tuple[str, tuple[str, bytes, str]]] = field(default_factory=list)
    #: ``sglang`` (sglang's own request) or ``explicit`` (the case's request)
    mode: str = "explicit"

    def summary(self) -> dict[str, Any]:
        """What was sent, for candidates.json (inline images as their size and digest)."""
        def short(v: Any) -> Any:
            if isinstance(v, str) and v.startswith("data:"):
                raw = v.split(",", 1)[-1]
                return f"<{v.split(';', 1)[0]} {len(raw) * 3 // 4} bytes>"
            return v
        if self.form is not None:
            return {"path": self.path, "mode": self.mode, "form": [[k, short(v)] for k, v in self.form],
                    "files": [[k, name, len(data)] for k, (name, data, _) in self.files]}
        return {"path": self.path, "mode": self.mode,
                "body": {k: short(v) for k, v in self.body.items()}}


class CannotHonour(Exception):
    """The server cannot be asked for what the case needs; ``reasons`` says what and why."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("server cannot honour " + "; ".join(reasons))
        self.reasons = reasons


def _data_url(data: bytes) -> str:
    mime = ("image/png" if data.startswith(b"\x89PNG") else
            "image/jpeg" if data.startswith(b"\xff\xd8\xff") else
            "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else
            "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def _image_source(case: Case) -> str | None:
    """The conditioning image as the server should fetch it: a pinned local file inline,
    else sglang's URL; ``None`` when the case has none."""
    img = case.request.image
    if img is None:
        return None
    local = bool(img.sha256 and img.path)
    if local and ((Path(case.source).parent / img.path).is_file() or not img.url):
        return _data_url(_pinned_file(case, img.path, img.sha256, "the conditioning image"))
    if img.url:
        return img.url
    raise CannotHonour(["the conditioning image: no pinned file and no URL"])


def _server_guidance(case: Case) -> dict[str, Any] | None:
    """The guider values an sglang server applies for this LTX-2.3 case (None: not known)."""
    if case.pipeline not in _LTX_PIPELINES:
        return None
    names = f"{case.model.repo} {case.model.checkpoint}".lower()
    if "2.3" not in names:
        return None
    return LTX23_HQ_SERVER_GUIDANCE if case.pipeline == "two_stage_hq" else LTX23_SERVER_GUIDANCE


def _mime(data: bytes) -> str:
    return _data_url(data[:16]).split(";", 1)[0][len("data:"):]


def _pinned_file(case: Case, rel: str, sha256: str, what: str) -> bytes:
    path = Path(case.source).parent / rel
    if not path.is_file():
        raise CannotHonour([f"{what}: {rel} is missing"])
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise CannotHonour([f"{what} {rel} (sha256 {digest[:12]}… is not the pinned {sha256[:12]}…)"])
    return data


#: diffusers-family fields sglang 0.5.23's request models declare (same name on both sides).
#: (``video``: /v1/videos JSON; ``image``: /v1/images/generations JSON; ``edits``: its form)
_FAMILY_DECLARED = {"guidance_scale": ("video", "image", "edits"),
                    "true_cfg_scale": ("video", "image", "edits"),
                    "max_sequence_length": ("video", "image")}
#: Family fields no sglang 0.5.23 request model carries (the edits form carries none of these).
_FAMILY_UNCARRIED = ("resolution", "cfg_normalize", "use_en_prompt")
#: What sglang 0.5.23 applies for those, per pipeline (Qwen-Image-Layered:
#: configs/sample/qwenimage.py QwenImageLayeredSamplingParams cfg_normalize/use_en_prompt True,
#: configs/pipeline_configs/qwen_image.py QwenImageLayeredPipelineConfig resolution 640).
SERVER_FAMILY_FIXED: dict[str, dict[str, Any]] = {
    "QwenImageLayeredPipeline": {"resolution": 640, "cfg_normalize": True, "use_en_prompt": True}}


def _family_fields(case: Case, api: str, accepted: frozenset[str],
                   reasons: list[str]) -> dict[str, Any]:
    """The case's ``[case.request.<family>]`` values as request fields (gt_gen.generate
    .backends.diffusers.spec); a value no request model carries is a reason, unless the
    server's model declares it (``--server-fields``)."""
    fam = getattr(case.request, "family", None)
    if fam is None:
        return {}
    out: dict[str, Any] = {}
    for key in (*_FAMILY_DECLARED, *_FAMILY_UNCARRIED):
        value = getattr(fam, key, None)
        if value is None:
            continue
        if api in _FAMILY_DECLARED.get(key, ()) or key in accepted:
            out[key] = value
        elif SERVER_FAMILY_FIXED.get(case.pipeline, {}).get(key, object()) == value:
            continue  # the server applies exactly this value anyway
        else:
            reasons.append(f"request.{fam.family}.{key}={value!r}: sglang 0.5.23's "
                           f"{'/v1/images/edits' if api == 'edits' else 'request'} has no field "
                           f"for it; pass --server-fields {key} for a server whose model takes it")
    return out


def _generator_device(case: Case) -> str:
    fam = getattr(case.request, "family", None)
    if fam is not None and getattr(fam, "generator_device", "run") == "cpu":
        return "cpu"
    if case.sglang is not None:
        return case.sglang.generator_device
    return DEFAULT_GENERATOR_DEVICE


def _explicit_video(case: Case, accepted: frozenset[str]) -> PreparedRequest:
    r, reasons = case.request, []
    if not float(r.fps).is_integer():
        reasons.append(f"fps={r.fps:g}: sglang's /v1/videos takes an integer fps and the case "
                       "would be generated at another rate")
    body: dict[str, Any] = {
        "prompt": r.prompt, "size": f"{r.width}x{r.height}", "num_frames": r.num_frames,
        "fps": int(r.fps), "seed": r.seed, "num_inference_steps": r.steps,
        "negative_prompt": r.negative_prompt, "output_quality": VIDEO_OUTPUT_QUALITY}
    server_g = _server_guidance(case)
    for key, value in sorted(r.guidance.items()):
        name = guidance_field(key)
        if name in accepted:
            body[name] = value
        elif server_g is None or server_g.get(key) != value:
            applied = "unknown" if server_g is None else repr(server_g.get(key))
            reasons.append(f"request.guidance.{key}={value!r}: sglang 0.5.23's /v1/videos has no "
                           f"field for it (the server applies {applied}); use a server whose model "
                           f"declares {name} and pass --server-fields {name}")
    body |= _family_fields(case, "video", accepted, reasons)
    if r.image is not None:
        for key, fixed in SERVER_IMAGE_CONDITIONING.items():
            value = getattr(r.image, key)
            if value != fixed:
                reasons.append(f"request.image.{key}={value!r}: sglang conditions on frame 0 at "
                               f"strength 1.0 with crf 33 and its request has no field for it")
    if reasons:
        raise CannotHonour(reasons)
    source = _image_source(case)
    if source is not None:
        body["reference_url"] = source
    return PreparedRequest("/v1/videos", body)


def _explicit_image(case: Case, accepted: frozenset[str]) -> PreparedRequest:
    r, reasons = case.request, []
    if r.image is not None:
        raise CannotHonour(["request.image on an image case: sglang's image API takes input "
                            "images as uploads or URLs (the family table's images)"])
    sampling = case.sglang.sampling if case.sglang else None
    fam = getattr(r, "family", None)
    fmt = (sampling.output_format if sampling else "") or DEFAULT_IMAGE_FORMAT
    fields: dict[str, Any] = {"prompt": r.prompt}
    if not (fam is not None and getattr(fam, "size_from_input", False)):
        fields["size"] = f"{r.width}x{r.height}"  # else the server sizes from the input image
    fields |= {"n": 1, "seed": r.seed, "num_inference_steps": r.steps,
               "negative_prompt": r.negative_prompt, "response_format": "b64_json",
               "output_format": fmt}
    urls = list(sampling.image_urls) if sampling else []
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for i, img in enumerate(getattr(fam, "images", ()) or ()):
        if img.sha256 and img.path:  # a pinned local copy goes up as the file itself
            data = _pinned_file(case, img.path, img.sha256, f"input image {i}")
            files.append(("image", (Path(img.path).name, data, _mime(data))))
        elif img.url:
            if img.url not in urls:
                urls.append(img.url)
        else:
            reasons.append(f"input image {i}: no pinned file and no URL")
    api = "edits" if urls or files else "image"
    fields |= _family_fields(case, api, accepted, reasons)
    if reasons:
        raise CannotHonour(reasons)
    if api == "image":
        return PreparedRequest("/v1/images/generations", fields)
    # Edits are multipart only: URLs as sglang's direct-URL client sends them, files uploaded.
    layers = getattr(fam, "num_layers", None) if fam is not None else None
    form = [("url", u) for u in urls] + [(k, _form_value(v)) for k, v in fields.items()]
    form.append(("num_frames", str(layers or (sampling.num_frames if sampling else None) or 1)))
    return PreparedRequest("/v1/images/edits", form=form, files=files)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _sglang_request(case: Case) -> PreparedRequest:
    """sglang's test-client request for the case (``[case.sglang.sampling]``)."""
    assert case.sglang is not None and case.sglang.sampling is not None
    s, spec = case.sglang.sampling, case.sglang
    model = spec.server_args.model_path if spec.server_args else None
    head: dict[str, Any] = {"model": model} if model else {}
    if case.modality == "video":
        body = head | {"prompt": s.prompt, "size": s.output_size, "seconds": s.seconds}
        if s.fps is not None:
            body["fps"] = s.fps
        if s.num_frames is not None:
            body["num_frames"] = s.num_frames
        if s.image_urls:
            body["reference_url"] = s.image_urls[0]
        body |= {"generator_device": spec.generator_device, "output_quality": VIDEO_OUTPUT_QUALITY}
        for key, value in s.extras.items():
            body.setdefault(key, value)
        return PreparedRequest("/v1/videos", body, mode="sglang")
    fmt = s.output_format or DEFAULT_IMAGE_FORMAT
    if not s.image_urls:
        body = head | {"prompt": s.prompt, "n": 1, "size": s.output_size,
                       "response_format": "b64_json", "output_format": fmt,
                       "generator_device": spec.generator_device}
        for key, value in s.extras.items():
            body.setdefault(key, value)
        return PreparedRequest("/v1/images/generations", body, mode="sglang")
    form = [("url", u) for u in s.image_urls]
    form += [("prompt", s.prompt), ("n", "1"), ("response_format", "b64_json"),
             ("output_format", fmt), ("generator_device", spec.generator_device),
             ("num_frames", str(s.num_frames or 1))]
    if model:
        form.append(("model", model))
    if s.output_size:
        form.append(("size", s.output_size))
    form += [(k, _form_value(v)) for k, v in s.extras.items()]
    return PreparedRequest("/v1/images/edits", form=form, mode="sglang")


def prepare(case: Case, *, server_fields: frozenset[str] = frozenset()) -> PreparedRequest:
    """The request for ``case``; raises :class:`CannotHonour` when none would be the case."""
    spec = case.sglang
    if spec is not None and spec.sampling is not None and case.comparability != "official":
        return _sglang_request(case)
    req = (_explicit_video(case, server_fields) if case.modality == "video"
           else _explicit_image(case, server_fields))
    extra: dict[str, Any] = {"generator_device": _generator_device(case)}
    if spec is not None and spec.server_args is not None:
        extra["model"] = spec.server_args.model_path
    if spec is not None and spec.sampling is not None:
        extra |= {k: v for k, v in spec.sampling.extras.items() if k not in extra}
    if req.form is not None:
        have = {k for k, _ in req.form}
        req.form += [(k, _form_value(v)) for k, v in extra.items() if k not in have]
    else:
        for key, value in extra.items():
            req.body.setdefault(key, value)
    return req


@dataclass(frozen=True)
class ServerInfo:
    """What a running server says about itself (``GET /v1/models``, ``GET /v1/model_info``)."""

    model_path: str | None = None
    model_id: str | None = None
    num_gpus: int | None = None
    pipeline_class: str | None = None


def check_server(case: Case, info: ServerInfo | None) -> list[str]:
    """Why the running server is not the one the case's sglang facts launch (empty: it is,
    or nothing to check)."""
    if info is None or case.sglang is None or case.sglang.server_args is None:
        return []
    want, problems = case.sglang.server_args, []
    served = info.model_path or info.model_id
    if served is not None and served != want.model_path:
        problems.append(f"it serves {served}, the case needs {want.model_path}")
    if info.num_gpus is not None and info.num_gpus != want.num_gpus:
        problems.append(f"it runs on {info.num_gpus} GPU(s), the case needs {want.num_gpus}")
    if (want.pipeline_class_name and info.pipeline_class is not None
            and info.pipeline_class != want.pipeline_class_name):
        problems.append(f"its pipeline is {info.pipeline_class}, the case needs "
                        f"{want.pipeline_class_name}")
    return problems
