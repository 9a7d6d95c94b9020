"""A client of sglang's OpenAI-style diffusion API, for candidate outputs.

Videos: ``POST /v1/videos`` (JSON: prompt, size "WxH", num_frames, fps, seed, ...) returns a
job ``{id, status}``; ``GET /v1/videos/{id}`` is polled until ``completed`` or ``failed``
(within a deadline); ``GET /v1/videos/{id}/content`` is the mp4. Images:
``POST /v1/images/generations`` with ``response_format: b64_json``. Connection errors and
5xx are retried with backoff; a failed or timed-out job is a per-case error carrying the
server's message; a malformed response is an error, never an empty file.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from gt_gen.cases import Case
from gt_gen.errors import NetworkError
from gt_gen.redact import redact
from gt_gen.retry import Retryable, RetriesExhausted, parse_retry_after, retry


class JobError(Exception):
    """One case's job failed (server said so, timed out, or answered nonsense)."""


@dataclass
class ClientOptions:
    timeout: float = 30.0
    job_deadline: float = 1800.0
    poll_interval: float = 2.0
    attempts: int = 4
    backoff: float = 0.5


def request_body(case: Case) -> dict[str, Any]:
    """Map a case's request onto the API fields (only what the official request carries)."""
    r = case.request
    body: dict[str, Any] = {"prompt": r.prompt, "size": f"{r.width}x{r.height}", "seed": r.seed,
                            "num_inference_steps": r.steps}
    if r.negative_prompt:
        body["negative_prompt"] = r.negative_prompt
    if case.modality == "video":
        body |= {"num_frames": r.num_frames, "fps": r.fps}
        if r.image is not None:
            img = (Path(case.source).parent / r.image.path).read_bytes()
            body["input_reference"] = "data:image/png;base64," + base64.b64encode(img).decode()
    else:
        body |= {"n": 1, "response_format": "b64_json"}
    return body


class SglangClient:
    """Talks to one server; ``sleep``/``clock`` are injectable for tests."""

    def __init__(self, server: str, opts: ClientOptions | None = None, *,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server.rstrip("/")
        self.opts = opts or ClientOptions()
        self.session = session or requests.Session()
        self.sleep, self.clock = sleep, clock
        import os

        key = os.environ.get("SGLANG_API_KEY")
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def _call(self, method: str, path: str, **kw) -> requests.Response:
        url = self.server + path

        def once() -> requests.Response:
            try:
                resp = self.session.request(method, url, timeout=self.opts.timeout, **kw)
            except requests.RequestException as exc:
                raise Retryable(f"{method} {path}: {type(exc).__name__}") from exc
            if resp.status_code >= 500 or resp.status_code == 429:
                raise Retryable(f"{method} {path}: HTTP {resp.status_code} {resp.text[:120]}",
                                parse_retry_after(resp.headers.get("Retry-After")))
            return resp
        try:
            return retry(once, attempts=self.opts.attempts, base=self.opts.backoff, sleep=self.sleep)
        except RetriesExhausted as exc:
            raise NetworkError(redact(f"server {self.server} unreachable or failing: {exc}"),
                               url=redact(url)) from None

    @staticmethod
    def _json(resp: requests.Response, what: str) -> dict[str, Any]:
        if resp.status_code >= 400:
            raise JobError(f"{what}: HTTP {resp.status_code}: {resp.text[:300]}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise JobError(f"{what}: malformed JSON from the server") from exc
        if not isinstance(data, dict):
            raise JobError(f"{what}: expected a JSON object")
        return data

    def video(self, case: Case) -> bytes:
        job = self._json(self._call("POST", "/v1/videos", json=request_body(case)), "create job")
        job_id = job.get("id")
        if not isinstance(job_id, str) or not job_id or "/" in job_id:
            raise JobError(f"create job: no usable job id in {str(job)[:200]}")
        deadline = self.clock() + self.opts.job_deadline
        status = job.get("status")
        while status != "completed":
            if status == "failed":
                err = job.get("error") or job.get("message") or "no message"
                raise JobError(f"job {job_id} failed: {str(err)[:500]}")
            if self.clock() >= deadline:
                raise JobError(f"job {job_id} not completed within {self.opts.job_deadline:.0f}s "
                               f"(last status {status!r})")
            self.sleep(self.opts.poll_interval)
            job = self._json(self._call("GET", f"/v1/videos/{job_id}"), f"poll job {job_id}")
            status = job.get("status")
        resp = self._call("GET", f"/v1/videos/{job_id}/content")
        if resp.status_code != 200 or not resp.content:
            raise JobError(f"download job {job_id}: HTTP {resp.status_code}, {len(resp.content)} bytes")
        return resp.content

    def image(self, case: Case) -> bytes:
        data = self._json(self._call("POST", "/v1/images/generations", json=request_body(case)),
                          "image generation")
        try:
            return base64.b64decode(data["data"][0]["b64_json"], validate=True)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise JobError("image generation: no b64_json image in the response") from exc
