"""A loopback HTTP server that serves input images, and every way a download can go wrong.

Each path has a :class:`Route`: a list of behaviours played one per request (the last one
repeats), e.g. ``[("status", 503), ("ok",)]`` answers 503 once, then the image. Every request
is logged with its ``Authorization`` header (so a test can prove none was sent).
"""

from __future__ import annotations

import io
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """A small, smooth test image in ``fmt`` (PNG, JPEG, WEBP)."""
    from PIL import Image

    w, h = size
    im = Image.new("RGB", size)
    im.putdata([((x * 4 + seed) % 256, (y * 5 + 2 * seed) % 256, (x + y + seed) % 256)
                for y in range(h) for x in range(w)])
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


@dataclass
class Route:
    body: bytes = b""
    steps: list[tuple[Any, ...]] = field(default_factory=lambda: [("ok",)])
    hits: int = 0


class ImageServer:
    """``routes``: path -> :class:`Route`. ``url(path)`` is the full URL of a path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[tuple[str, str, str]] = []
        self.release = threading.Event()  # wakes handlers that sleep or stall
        self.started = threading.Event()  # set when a stalling handler has sent half a body
        srv = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _head(self, code: int, headers: dict[str, str]) -> None:
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                srv.log.append((self.command, self.path, self.headers.get("Authorization", "")))
                route = srv.routes.get(self.path)
                if route is None:
                    self._head(404, {"Content-Length": "0"})
                    return
                step = route.steps[min(route.hits, len(route.steps) - 1)]
                route.hits += 1
                kind, args = step[0], step[1:]
                body = route.body
                if kind == "ok":
                    self._head(200, {"Content-Length": str(len(body)), "Content-Type": "image/png"})
                    self.wfile.write(body)
                elif kind == "status":
                    self._head(args[0], {"Content-Length": "0", "Retry-After": "0"})
                elif kind == "redirect":
                    self._head(302, {"Location": args[0], "Content-Length": "0"})
                elif kind == "reset":  # RST instead of an answer
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                elif kind == "sleep":
                    srv.release.wait(args[0])
                    self._head(200, {"Content-Length": str(len(body))})
                    self.wfile.write(body)
                elif kind == "huge":  # declares more than any cap, sends nothing of it
                    self._head(200, {"Content-Length": str(args[0])})
                    self.close_connection = True
                elif kind == "chunked":  # no Content-Length: the cap must stop the stream
                    self._head(200, {"Transfer-Encoding": "chunked"})
                    chunk = b"\0" * 65536
                    try:
                        for _ in range(args[0] // len(chunk) + 1):
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:
                        pass
                    self.close_connection = True
                elif kind == "truncate":
                    self._head(200, {"Content-Length": str(len(body))})
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                elif kind == "stall":  # half the body, then wait (a pin killed mid-download)
                    self._head(200, {"Content-Length": str(len(body))})
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    srv.started.set()
                    srv.release.wait(args[0] if args else 30)
                    self.close_connection = True
                else:
                    raise AssertionError(kind)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def add(self, path: str, body: bytes, *steps: tuple[Any, ...]) -> str:
        self.routes[path] = Route(body=body, steps=list(steps) or [("ok",)])
        return self.url(path)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def edit_case(case_id: str, urls: list[str], *, group_prompt: str = "convert 2d to 3d") -> str:
    """An official diffusers case (Qwen-Image edit-plus, the tiny model) whose inputs are
    sglang-style URLs only, as the official edit cases declare them."""
    lines = ["[[case]]", f'id = "{case_id}"', 'modality = "image"', 'backend = "diffusers"',
             'pipeline = "QwenImageEditPlusPipeline"', 'implementation = "test"', "gpus = 1",
             'runner = "r"', "estimated_minutes = 0.5", 'comparability = "official"',
             "[case.model]", 'repo = "tiny"', 'revision = "seed-0"', "[case.request]",
             f'prompt = "{group_prompt}"', 'negative_prompt = " "', "width = 64", "height = 64",
             "steps = 2", "seed = 42", "[case.request.qwen_image]", "true_cfg_scale = 4.0",
             "size_from_input = true"]
    for url in urls:
        lines += ["[[case.request.qwen_image.images]]", f'url = "{url}"']
    return "\n".join(lines) + "\n"


def ltx_case(case_id: str, url: str) -> str:
    """An official LTX-2 one-stage case conditioned on an image known by URL only."""
    return "\n".join([
        "[[case]]", f'id = "{case_id}"', 'modality = "video"', 'backend = "ltx_official"',
        'pipeline = "one_stage"', 'runner = "r"', 'comparability = "official"', "[case.model]",
        'repo = "tiny"', 'revision = "seed-0"', 'checkpoint = "c"', "[case.request]",
        'prompt = "p"', "width = 64", "height = 64", "num_frames = 9", "seed = 1",
        "[case.request.image]", f'url = "{url}"']) + "\n"
