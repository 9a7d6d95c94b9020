"""A client of sglang's OpenAI-style diffusion API (sglang 0.5.23), for candidate outputs.

Videos: ``POST /v1/videos`` (JSON) returns a job ``{id, status}``; ``GET /v1/videos/{id}`` is
polled until ``completed`` or ``failed``/``cancelled``/``deleted`` (within a deadline); the mp4
is ``GET /v1/videos/{id}/content``, or the job's ``url`` when the server put it in cloud
storage. Images: ``POST /v1/images/generations`` (JSON) or ``/v1/images/edits`` (multipart),
``response_format: b64_json``, or the returned ``url``. What is sent is built by
:mod:`gt_gen.engine.sglang_request`.

Connection errors, 429 and 5xx are retried with backoff; a failed or timed-out job is a
per-case error carrying the server's message text; a malformed response is an error, never
an empty file. ``SGLANG_API_KEY`` goes as a bearer token to the server, and to a result URL
only on the server's own scheme, host and port (never to another host).
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from gt_gen.cases import Case
from gt_gen.engine.sglang_request import PreparedRequest, ServerInfo, prepare
from gt_gen.errors import NetworkError
from gt_gen.redact import redact
from gt_gen.http_body import read_body
from gt_gen.retry import Retryable, RetriesExhausted, parse_retry_after, retry

#: Image container -> file extension, by magic bytes.
IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"))


class JobError(Exception):
    """One case's job failed (server said so, timed out, or answered nonsense)."""


@dataclass
class ClientOptions:
    timeout: float = 30.0
    job_deadline: float = 1800.0
    poll_interval: float = 2.0
    attempts: int = 4
    backoff: float = 0.5


def image_kind(data: bytes) -> str | None:
    """``png``/``jpg``/``webp`` from the file's first bytes, else None."""
    for magic, ext in IMAGE_MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def request_body(case: Case, server_fields: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The JSON body gt-gen sends for ``case`` (a multipart request has none)."""
    return prepare(case, server_fields=server_fields).body


def _origin(url: str) -> tuple[str, str, int | None]:
    p = urlsplit(url)
    return p.scheme.lower(), (p.hostname or "").lower(), p.port or {"https": 443, "http": 80}.get(
        p.scheme.lower())


def _error_text(err: Any) -> str:
    """A job error as its message text (sglang sends ``{"message": ...}``)."""
    if isinstance(err, dict):
        msg = err.get("message") or err.get("detail") or err.get("error")
        if msg is not None:
            return str(msg) if not isinstance(msg, dict) else _error_text(msg)
    return str(err) if err else "no message"


class SglangClient:
    """Talks to one server; ``sleep``/``clock`` are injectable for tests."""

    def __init__(self, server: str, opts: ClientOptions | None = None, *,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 server_fields: frozenset[str] = frozenset()) -> None:
        self.server = server.rstrip("/")
        self.opts = opts or ClientOptions()
        self.session = session or requests.Session()
        self.sleep, self.clock = sleep, clock
        self.server_fields = server_fields
        #: Why the server is not asked again (a whole round of attempts had no answer), or None.
        self.gone: str | None = None
        key = os.environ.get("SGLANG_API_KEY")
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def _send(self, method: str, url: str, what: str, *, session: Any = None,
              **kw: Any) -> requests.Response:
        sess = session if session is not None else self.session

        if self.gone:
            raise NetworkError(redact(f"server {self.server} {self.gone}"), url=redact(url))
        unanswered = 0

        def once() -> requests.Response:
            nonlocal unanswered
            try:
                try:
                    resp = sess.request(method, url, timeout=self.opts.timeout, stream=True, **kw)
                except requests.RequestException as exc:
                    raise Retryable(f"{method} {what}: {type(exc).__name__}") from exc
                try:  # the whole body against one deadline (gt_gen.http_body)
                    read_body(resp, timeout=self.opts.timeout, what=f"{method} {what}")
                finally:
                    resp.close()
            except Retryable as exc:
                unanswered += 1 if isinstance(exc.__cause__, requests.RequestException) else 0
                raise
            unanswered = 0
            if resp.status_code >= 500 or resp.status_code == 429:
                raise Retryable(f"{method} {what}: HTTP {resp.status_code} {resp.text[:120]}",
                                parse_retry_after(resp.headers.get("Retry-After")))
            return resp
        try:
            return retry(once, attempts=self.opts.attempts, base=self.opts.backoff, sleep=self.sleep)
        except RetriesExhausted as exc:
            if unanswered >= self.opts.attempts:
                # No answer at all to a whole round (not even an error status): the server is
                # stalled or gone. Every later request would cost another round of timeouts
                # (4 x 30 s a case, one case after another), so none is sent.
                self.gone = (f"stopped answering ({unanswered} attempts in a row, the last "
                             f"{exc.reasons[-1]}); not asked again")
            raise NetworkError(redact(f"server {self.server} unreachable or failing: {exc}"),
                               url=redact(url)) from None

    def _call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self._send(method, self.server + path, path, **kw)

    def _fetch_url(self, url: str, what: str) -> bytes:
        """A result the server left at ``url`` (cloud storage or a relative path)."""
        url = urljoin(self.server + "/", url)
        if urlsplit(url).scheme not in ("http", "https"):
            raise JobError(f"{what}: result URL {redact(url)!r} is not http(s)")
        same = _origin(url) == _origin(self.server)
        # The API key belongs to the server: another host gets a request without it.
        resp = self._send("GET", url, redact(url), session=None if same else requests.Session())
        if resp.status_code != 200 or not resp.content:
            raise JobError(f"{what}: GET {redact(url)}: HTTP {resp.status_code}, "
                           f"{len(resp.content)} bytes")
        return resp.content

    @staticmethod
    def _json(resp: requests.Response, what: str) -> dict[str, Any]:
        if resp.status_code >= 400:
            try:
                detail = resp.json()
                text = _error_text(detail.get("error", detail)) if isinstance(detail, dict) else resp.text
            except ValueError:
                text = resp.text
            raise JobError(f"{what}: HTTP {resp.status_code}: {str(text)[:300]}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise JobError(f"{what}: malformed JSON from the server") from exc
        if not isinstance(data, dict):
            raise JobError(f"{what}: expected a JSON object")
        return data

    def _post(self, req: PreparedRequest, what: str) -> dict[str, Any]:
        if req.form is not None:
            parts: list[tuple[str, tuple[str | None, Any] | tuple[str, bytes, str]]] = [
                (k, (None, v)) for k, v in req.form]  # multipart/form-data fields
            parts += list(req.files)  # uploads
            return self._json(self._call("POST", req.path, files=parts), what)
        return self._json(self._call("POST", req.path, json=req.body), what)

    def server_info(self) -> ServerInfo | None:
        """What the server says it runs (None when it does not say: older servers, or answers
        that name nothing)."""
        models = self._call("GET", "/v1/models")
        if models.status_code == 404:
            return None
        card: dict[str, Any] = {}
        try:
            data = models.json().get("data") or []
            card = data[0] if data and isinstance(data[0], dict) else {}
        except (ValueError, AttributeError):
            card = {}
        model_path = None
        info = self._call("GET", "/v1/model_info")
        if info.status_code == 200:
            try:
                model_path = info.json().get("model_path")
            except (ValueError, AttributeError):
                model_path = None
        gpus = card.get("num_gpus")
        got = ServerInfo(model_path=model_path if isinstance(model_path, str) else None,
                         model_id=card.get("id") if isinstance(card.get("id"), str) else None,
                         num_gpus=gpus if isinstance(gpus, int) and not isinstance(gpus, bool) else None,
                         pipeline_class=(card.get("pipeline_class")
                                         if isinstance(card.get("pipeline_class"), str) else None))
        # Answers that say nothing usable (an HTML page with status 200, say) are no report:
        # the caller then says the launch was not checked, instead of checking nothing silently.
        return got if got != ServerInfo() else None

    def prepare(self, case: Case) -> PreparedRequest:
        return prepare(case, server_fields=self.server_fields)

    def video(self, case: Case, req: PreparedRequest | None = None) -> bytes:
        req = req or self.prepare(case)
        job = self._post(req, "create job")
        job_id = job.get("id")
        if not isinstance(job_id, str) or not job_id or "/" in job_id:
            raise JobError(f"create job: no usable job id in {str(job)[:200]}")
        deadline = self.clock() + self.opts.job_deadline
        status = job.get("status")
        while status != "completed":
            if status in ("failed", "cancelled", "deleted"):
                raise JobError(f"job {job_id} {status}: {_error_text(job.get('error'))[:500]}")
            if self.clock() >= deadline:
                raise JobError(f"job {job_id} not completed within {self.opts.job_deadline:.0f}s "
                               f"(last status {status!r})")
            self.sleep(self.opts.poll_interval)
            job = self._json(self._call("GET", f"/v1/videos/{job_id}"), f"poll job {job_id}")
            status = job.get("status")
        if isinstance(job.get("url"), str) and job["url"]:
            return self._fetch_url(job["url"], f"download job {job_id}")
        resp = self._call("GET", f"/v1/videos/{job_id}/content")
        if resp.status_code != 200 or not resp.content:
            raise JobError(f"download job {job_id}: HTTP {resp.status_code}, {len(resp.content)} bytes")
        return resp.content

    def image(self, case: Case, req: PreparedRequest | None = None) -> bytes:
        req = req or self.prepare(case)
        data = self._post(req, "image generation")
        try:
            item = data["data"][0]
        except (KeyError, IndexError, TypeError):
            raise JobError("image generation: no image in the response") from None
        if not isinstance(item, dict):
            raise JobError("image generation: no image in the response")
        if isinstance(item.get("b64_json"), str):
            try:
                return base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError):
                raise JobError("image generation: b64_json is not base64") from None
        if isinstance(item.get("url"), str) and item["url"]:
            return self._fetch_url(item["url"], "image generation")
        raise JobError("image generation: no b64_json image or url in the response")
