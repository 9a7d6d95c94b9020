"""A loopback server implementing the subset of sglang's diffusion API that gt-gen uses."""

from __future__ import annotations

import base64
import json
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

from tests.conftest import pattern_frames, write_mp4


class FakeSglang:
    """``mode[case prompt] -> behaviour``: ok, fail, never, flaky500, badjson, badmp4, offset."""

    def __init__(self) -> None:
        self.modes: dict[str, str] = {}
        self.jobs: dict[str, dict] = {}
        self.bodies: list[dict] = []
        self.posts = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def mode(self, body: dict) -> str:
        return self.modes.get(body.get("prompt", ""), "ok")

    @staticmethod
    def video_bytes(body: dict, offset: int = 0) -> bytes:
        w, h = (int(v) for v in body["size"].split("x"))
        frames = pattern_frames(int(body["num_frames"]), h, w, seed=int(body["seed"]))
        if offset:
            frames = (frames.astype(int) + offset).clip(0, 255).astype("uint8")
        with tempfile.TemporaryDirectory() as d:
            return write_mp4(Path(d) / "v.mp4", frames).read_bytes()

    def _handler(self):
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

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.posts += 1
                    fake.bodies.append(body)
                    mode = fake.mode(body)
                    if mode == "flaky500" and fake.posts % 2 == 1:
                        return self._send(500, b'{"error":"busy"}')
                if self.path == "/v1/images/generations":
                    w, h = (int(v) for v in body["size"].split("x"))
                    ok, png = cv2.imencode(".png", pattern_frames(1, h, w, int(body["seed"]))[0])
                    return self._send(200, json.dumps({"data": [{"b64_json": base64.b64encode(png.tobytes()).decode()}]}).encode())
                job_id = f"job{len(fake.jobs)}"
                fake.jobs[job_id] = {"body": body, "polls": 0, "mode": mode}
                self._send(200, json.dumps({"id": job_id, "status": "queued"}).encode())

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                job = fake.jobs.get(parts[2]) if len(parts) >= 3 else None
                if job is None:
                    return self._send(404, b'{"error":"no such job"}')
                if len(parts) == 4 and parts[3] == "content":
                    if job["mode"] == "badmp4":
                        return self._send(200, b"\x00\x00\x00 not an mp4", "video/mp4")
                    offset = 40 if job["mode"] == "offset" else 0
                    return self._send(200, fake.video_bytes(job["body"], offset), "video/mp4")
                job["polls"] += 1
                mode = job["mode"]
                if mode == "badjson" and job["polls"] >= 1:
                    return self._send(200, b"{not json")
                if mode == "never" or job["polls"] < 2:
                    status = "in_progress"
                elif mode == "fail":
                    return self._send(200, json.dumps({"id": parts[2], "status": "failed",
                                                       "error": "CUDA error: device-side assert"}).encode())
                else:
                    status = "completed"
                self._send(200, json.dumps({"id": parts[2], "status": status}).encode())

        return H
