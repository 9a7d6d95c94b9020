"""A loopback HTTP server whose misbehaviour each test scripts per path."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    """Per-path behaviour: a list of steps consumed one per request (the last one repeats)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.steps: dict[str, list[str]] = {}
        self.head_refused: set[str] = set()
        self.requests: Counter = Counter()
        self.log: list[tuple[str, str]] = []
        #: (path, Authorization header or None) of every request, to check where tokens go.
        self.auth: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()

    def next_step(self, path: str) -> str:
        with self.lock:
            seq = self.steps.get(path)
            if not seq:
                return "ok"
            return seq.pop(0) if len(seq) > 1 else seq[0]


def make_handler(script: Script):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _serve(self, head: bool) -> None:
            path = self.path.split("?")[0]
            with script.lock:
                script.requests[path] += 1
                script.log.append((self.command, path))
                script.auth.append((path, self.headers.get("Authorization")))
            step = script.next_step(path)
            if step.startswith("redirect:"):
                self.send_response(302)
                self.send_header("Location", step.split(":", 1)[1])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if step == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                # Close the descriptor itself: rfile/wfile keep the socket object alive, which
                # would delay the RST until the client timed out.
                self.close_connection = True
                os.close(self.connection.detach())
                return
            if step == "timeout":
                time.sleep(1.5)
                self.connection.close()
                return
            if step.startswith("status:"):
                code = int(step.split(":")[1])
                self.send_response(code)
                if code in (429, 503):
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if head and path in script.head_refused:
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path not in script.files:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = script.files[path]
            if step == "slow":
                time.sleep(0.3)
            rng = self.headers.get("Range")
            body = data[:1] if rng == "bytes=0-0" and not head else data
            self.send_response(206 if rng == "bytes=0-0" else 200)
            self.send_header("Content-Length", str(len(body) if step != "truncate" else len(body) + 100))
            self.end_headers()
            if not head and step == "trickle":  # a byte every 0.1 s: each read is in time
                try:
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:  # the client gave up on it
                    pass
                return
            if not head:
                self.wfile.write(body if step != "truncate" else body[: len(body) // 2])
                if step == "truncate":
                    self.connection.close()

        def do_HEAD(self) -> None:
            self._serve(True)

        def do_GET(self) -> None:
            self._serve(False)

    return Handler


class Loopback:
    def __init__(self) -> None:
        self.script = Script()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.script))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
