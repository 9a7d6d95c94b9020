"""A loopback server that answers like sglang 0.5.23's diffusion API, and validates like it.

Requests are checked the way sglang 0.5.23's request models and routers check them
(``runtime/entrypoints/openai/{protocol,video_api,image_api,utils}.py``): the declared fields
with their types (pydantic's lax mode: an int field takes 24 or 24.0 but not 23.976 or a
boolean), ``extra_body`` merged into the body, ``size`` as ``WxH``, ``output_quality`` and
``quality`` from their fixed sets, ``response_format`` ``url``/``b64_json``. Stricter than
sglang on one point, on purpose: a field no request model declares (sglang ignores it
silently) is a 400 here, so a test sees any field gt-gen sends that would not reach the engine.
Model-owned fields the served model declares are passed as ``model_fields``.

Behaviour per case is chosen by prompt (``modes[prompt]``): ok, fail, never, flaky500, badjson,
badmp4, offset (+40 grey levels), cloud (result URL on this host), cloud_other (result URL on
another host), jpeg (an image comes back as JPEG whatever was asked), url (image as a URL).
"""

from __future__ import annotations

import base64
import json
import math
import tempfile
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2

from tests.conftest import pattern_frames, write_mp4

# Declared request fields (sglang 0.5.23 protocol.py) -> kind.
_VIDEO_FIELDS = {
    "prompt": "str", "enhance_prompt": "bool", "input_reference": "str", "reference_url": "str",
    "video_path": "str", "video_url": "str", "task_type": "str", "model": "str", "n": "int",
    "num_outputs_per_prompt": "int", "seconds": "int", "size": "str", "fps": "int",
    "num_frames": "int", "seed": "int|list", "generator_device": "str", "width": "int",
    "height": "int", "num_inference_steps": "int", "guidance_scale": "float",
    "guidance_scale_2": "float", "true_cfg_scale": "float", "negative_prompt": "str",
    "max_sequence_length": "int", "flow_shift": "float", "enable_teacache": "bool",
    "enable_frame_interpolation": "bool", "frame_interpolation_exp": "int",
    "frame_interpolation_scale": "float", "frame_interpolation_model_path": "str",
    "enable_upscaling": "bool", "upscaling_model_path": "str", "upscaling_scale": "int",
    "output_quality": "str", "output_compression": "int", "x264_preset": "str",
    "output_path": "str", "diffusers_kwargs": "dict", "perf_dump_path": "str", "profile": "bool",
    "num_profiled_timesteps": "int", "profile_all_stages": "bool"}
_IMAGE_FIELDS = {
    "prompt": "str", "task_type": "str", "enhance_prompt": "bool", "model": "str", "n": "int",
    "quality": "str", "response_format": "str", "size": "str", "style": "str",
    "background": "str", "output_format": "str", "user": "str", "width": "int", "height": "int",
    "num_inference_steps": "int", "guidance_scale": "float", "true_cfg_scale": "float",
    "seed": "int|list", "generator_device": "str", "negative_prompt": "str",
    "output_quality": "str", "output_compression": "int", "enable_teacache": "bool",
    "max_sequence_length": "int", "flow_shift": "float", "enable_upscaling": "bool",
    "upscaling_model_path": "str", "upscaling_scale": "int", "diffusers_kwargs": "dict",
    "perf_dump_path": "str", "profile": "bool", "num_profiled_timesteps": "int",
    "profile_all_stages": "bool", "progressive_mode": "str", "progressive_levels": "int",
    "progressive_delta": "float"}
# Form fields of POST /v1/images/edits (image_api.py).
_EDIT_FIELDS = {
    "url": "str", "url[]": "str", "prompt": "str", "enhance_prompt": "bool", "model": "str",
    "task_type": "str", "n": "int", "response_format": "str", "size": "str",
    "output_format": "str", "background": "str", "seed": "int", "generator_device": "str",
    "user": "str", "negative_prompt": "str", "guidance_scale": "float", "true_cfg_scale": "float",
    "num_inference_steps": "int", "quality": "str", "output_quality": "str",
    "output_compression": "int", "enable_teacache": "bool", "enable_cache_dit": "bool",
    "cache_dit_params": "dict", "enable_upscaling": "bool", "upscaling_model_path": "str",
    "upscaling_scale": "int", "perf_dump_path": "str", "profile": "bool",
    "num_profiled_timesteps": "int", "profile_all_stages": "bool", "num_frames": "int"}
# Extension fields the routers read from any request (utils.request_extra_value).
_TRANSPORT = {"quality", "use_diffusion_decoder", "enable_cache_dit", "cache_dit_params",
              "cfg_gate_step", "attention_backend_override", "skip_softmax_params",
              "extra_params"}
_OUTPUT_QUALITIES = {"maximum", "high", "medium", "low", "default"}
_QUALITY_LEVELS = {"exact", "lossless", "high", "extra-high"}


class Invalid(ValueError):
    pass


def _coerce(name: str, value: Any, kind: str) -> Any:
    """Pydantic v2 lax-mode conversion for the kinds the request models use."""
    if value is None:
        return None
    if kind == "int|list":
        if isinstance(value, list):
            return [_coerce(name, v, "int") for v in value]
        kind = "int"
    if kind == "int":
        if isinstance(value, bool):
            raise Invalid(f"{name}: Input should be a valid integer, got a boolean")
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                raise Invalid(f"{name}: Input should be a valid integer, got a number with a "
                              "fractional part")
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise Invalid(f"{name}: Input should be a valid integer")
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise Invalid(f"{name}: Input should be a valid number")
        try:
            return float(value)
        except ValueError:
            raise Invalid(f"{name}: Input should be a valid number") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in (0, 1) or (isinstance(value, str) and value.lower() in ("true", "false", "0", "1")):
            return str(value).lower() in ("1", "true")
        raise Invalid(f"{name}: Input should be a valid boolean")
    if kind == "dict":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise Invalid(f"{name}: Input should be a valid dictionary") from None
        if not isinstance(value, dict):
            raise Invalid(f"{name}: Input should be a valid dictionary")
        return value
    if not isinstance(value, str):
        raise Invalid(f"{name}: Input should be a valid string")
    return value


def _size(size: str | None) -> tuple[int, int] | None:
    if not size:
        return None
    w, sep, h = size.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or int(w) <= 0 or int(h) <= 0:
        raise Invalid("size must be formatted as positive WIDTHxHEIGHT")
    return int(w), int(h)


class FakeSglang:
    """Loopback fake of an sglang 0.5.23 diffusion server."""

    def __init__(self, *, model_path: str = "tiny", num_gpus: int = 1, pipeline_class: str | None = None,
                 model_fields: frozenset[str] | set[str] = frozenset(), report_model: bool = True,
                 default_size: tuple[int, int] = (96, 64)) -> None:
        self.modes: dict[str, str] = {}
        self.jobs: dict[str, dict] = {}
        self.bodies: list[dict] = []
        self.requests: list[tuple[str, dict]] = []
        self.rejected: list[str] = []
        self.blobs: dict[str, bytes] = {}
        self.auth_seen: list[tuple[str, str | None]] = []
        self.posts = 0
        self.model_path, self.num_gpus, self.pipeline_class = model_path, num_gpus, pipeline_class
        self.model_fields = frozenset(model_fields)
        self.report_model = report_model
        self.default_size = default_size
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.other = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(blobs_only=True))
        self.other.daemon_threads = True
        for s in (self.server, self.other):
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.other_url = f"http://127.0.0.1:{self.other.server_address[1]}"

    def close(self) -> None:
        for s in (self.server, self.other):
            s.shutdown()
            s.server_close()

    def mode(self, body: dict) -> str:
        return self.modes.get(body.get("prompt", ""), "ok")

    # -- what the engine would make of a request ------------------------------------------
    def resolve(self, body: dict) -> dict:
        """Sampling values the video API derives (fps 24 and 4 s unless sent; frames = fps*s)."""
        w, h = _size(body.get("size")) or (body.get("width"), body.get("height"))
        if w is None or h is None:
            w, h = self.default_size
        fps = body.get("fps") or 24
        frames = body.get("num_frames") or fps * (body.get("seconds") or 4)
        return {"width": int(w), "height": int(h), "fps": int(fps), "num_frames": int(frames),
                "seed": int(body.get("seed") if body.get("seed") is not None else 42)}

    def video_bytes(self, body: dict, offset: int = 0) -> bytes:
        r = self.resolve(body)
        frames = pattern_frames(r["num_frames"], r["height"], r["width"], seed=r["seed"])
        if offset:
            frames = (frames.astype(int) + offset).clip(0, 255).astype("uint8")
        with tempfile.TemporaryDirectory() as d:
            return write_mp4(Path(d) / "v.mp4", frames, fps=r["fps"]).read_bytes()

    def image_bytes(self, body: dict, fmt: str) -> bytes:
        w, h = _size(body.get("size")) or self.default_size
        rgb = pattern_frames(1, h, w, int(body.get("seed") or 42))[0]
        ext = {"png": ".png", "webp": ".webp"}.get(fmt, ".jpg")
        ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        assert ok
        return buf.tobytes()

    # -- validation ---------------------------------------------------------------------
    def _validate(self, payload: dict, fields: dict[str, str]) -> dict:
        extra = payload.pop("extra_body", None)
        if isinstance(extra, str):
            extra = json.loads(extra)
        for k, v in (extra or {}).items():
            payload.setdefault(k, v)
        undeclared = sorted(k for k in payload if k not in fields and k not in _TRANSPORT
                            and k not in self.model_fields)
        if undeclared:
            raise Invalid(f"undeclared field(s) {undeclared}: no request model of sglang 0.5.23 "
                          "(or of the served model) declares them; sglang would ignore them")
        if "prompt" not in payload or not isinstance(payload["prompt"], str):
            raise Invalid("prompt: Field required")
        out = {k: _coerce(k, v, fields[k]) if k in fields else v for k, v in payload.items()}
        _size(out.get("size"))
        for name in ("width", "height", "num_frames", "num_inference_steps"):
            if out.get(name) is not None and out[name] <= 0:
                raise Invalid(f"{name} must be positive")
        if out.get("output_quality") is not None and out["output_quality"] not in _OUTPUT_QUALITIES:
            raise Invalid(f"Invalid output_quality {out['output_quality']!r}")
        quality = out.get("quality")
        if quality not in (None, "auto") and quality not in _QUALITY_LEVELS:
            raise Invalid(f"quality must be one of {sorted(_QUALITY_LEVELS)}, got {quality!r}")
        if out.get("generator_device") not in (None, "cuda", "cpu"):
            raise Invalid(f"generator_device {out['generator_device']!r}")
        return out

    def _handler(self, blobs_only: bool = False):
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, code: int, obj: Any) -> None:
                self._send(code, json.dumps(obj).encode())

            def _blob(self, name: str) -> None:
                fake.auth_seen.append((name, self.headers.get("Authorization")))
                data = fake.blobs.get(name)
                if data is None:
                    return self._json(404, {"detail": "no such blob"})
                self._send(200, data, "application/octet-stream")

            def _store(self, data: bytes, name: str, other: bool) -> str:
                fake.blobs[name] = data
                return f"{fake.other_url if other else fake.url}/blobs/{name}"

            def do_POST(self) -> None:
                if blobs_only:
                    return self._json(404, {"detail": "not found"})
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ctype = self.headers.get("Content-Type", "")
                try:
                    if self.path == "/v1/images/edits":
                        if "multipart/form-data" not in ctype:
                            raise Invalid("/v1/images/edits takes multipart/form-data")
                        msg = BytesParser(policy=HTTP).parsebytes(
                            f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
                        form: list[tuple[str, str]] = []
                        uploads: list[bytes] = []
                        for part in msg.iter_parts():
                            name = str(part.get_param("name", header="content-disposition"))
                            if part.get_filename() is not None:
                                if name not in ("image", "image[]"):
                                    raise Invalid(f"unexpected file field {name!r}")
                                uploads.append(part.get_payload(decode=True))
                            else:
                                form.append((name, part.get_content()))
                        payload: dict[str, Any] = {}
                        urls = [v for k, v in form if k in ("url", "url[]")]
                        for k, v in form:
                            if k not in ("url", "url[]"):
                                payload[k] = v
                        body = fake._validate(payload, {k: t for k, t in _EDIT_FIELDS.items()
                                                        if k not in ("url", "url[]")})
                        if not urls and not uploads:
                            raise Invalid("Field 'image' or 'url' is required")
                        body["url"] = urls
                        body["uploads"] = len(uploads)
                    else:
                        payload = json.loads(raw or b"{}")
                        if not isinstance(payload, dict):
                            raise Invalid("body must be a JSON object")
                        fields = _VIDEO_FIELDS if self.path == "/v1/videos" else _IMAGE_FIELDS
                        body = fake._validate(payload, fields)
                except (Invalid, ValueError) as exc:
                    fake.rejected.append(str(exc))
                    return self._json(400, {"detail": f"Invalid request body: {exc}"})
                with fake.lock:
                    fake.posts += 1
                    fake.bodies.append(body)
                    fake.requests.append((self.path, body))
                    mode = fake.mode(body)
                    if mode == "flaky500" and fake.posts % 2 == 1:
                        return self._json(500, {"error": "busy"})
                if self.path in ("/v1/images/generations", "/v1/images/edits"):
                    rf = (body.get("response_format") or "b64_json").lower()
                    if rf not in ("url", "b64_json"):
                        return self._json(400, {"detail": f"response_format={rf} is not supported"})
                    fmt = "jpg" if mode == "jpeg" else (body.get("output_format") or "jpeg")
                    data = fake.image_bytes(body, fmt)
                    if mode == "url" or rf == "url":
                        return self._json(200, {"id": "img", "data": [{"url": self._store(data, "img", False)}]})
                    return self._json(200, {"id": "img", "data": [
                        {"b64_json": base64.b64encode(data).decode()}]})
                if self.path != "/v1/videos":
                    return self._json(404, {"detail": "Not Found"})
                job_id = f"job{len(fake.jobs)}"
                fake.jobs[job_id] = {"body": body, "polls": 0, "mode": mode}
                self._json(200, {"id": job_id, "status": "queued", "progress": 0})

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[0] == "blobs" and len(parts) == 2:
                    return self._blob(parts[1])
                if blobs_only:
                    return self._json(404, {"detail": "not found"})
                if self.path == "/v1/models":
                    if not fake.report_model:
                        return self._json(404, {"detail": "Not Found"})
                    card = {"id": fake.model_path, "object": "model", "num_gpus": fake.num_gpus,
                            "task_type": "TI2V", "pipeline_class": fake.pipeline_class}
                    return self._json(200, {"object": "list", "data": [card]})
                if self.path == "/v1/model_info":
                    if not fake.report_model:
                        return self._json(404, {"detail": "Not Found"})
                    return self._json(200, {"model_path": fake.model_path})
                job = fake.jobs.get(parts[2]) if len(parts) >= 3 and parts[:2] == ["v1", "videos"] else None
                if job is None:
                    return self._json(404, {"detail": "Video not found"})
                mode = job["mode"]
                if len(parts) == 4 and parts[3] == "content":
                    if mode in ("cloud", "cloud_other"):
                        return self._json(400, {"detail": "Video has been uploaded to cloud storage."})
                    if mode == "badmp4":
                        return self._send(200, b"\x00\x00\x00 not an mp4", "video/mp4")
                    offset = 40 if mode == "offset" else 0
                    return self._send(200, fake.video_bytes(job["body"], offset), "video/mp4")
                job["polls"] += 1
                if mode == "badjson":
                    return self._send(200, b"{not json")
                if mode == "never" or job["polls"] < 2:
                    return self._json(200, {"id": parts[2], "status": "in_progress", "progress": 50})
                if mode == "fail":
                    return self._json(200, {"id": parts[2], "status": "failed",
                                            "error": {"message": "CUDA error: device-side assert"}})
                done: dict[str, Any] = {"id": parts[2], "status": "completed", "progress": 100}
                if mode in ("cloud", "cloud_other"):
                    done["url"] = self._store(fake.video_bytes(job["body"]), f"{parts[2]}.mp4",
                                              mode == "cloud_other")
                self._json(200, done)

        return H

