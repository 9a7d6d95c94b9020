"""A loopback Hugging Face hub: the endpoints huggingface_hub uses to resolve and download.

``GET /api/models/<repo>/revision/<rev>`` (commit and file list) and ``HEAD``/``GET
/<repo>/resolve/<rev>/<file>`` (with ``X-Repo-Commit``, ``ETag`` and ``Content-Length``, as
the real hub answers). Every request and its Authorization header is logged; a repo in
``gated`` answers 401, as a gated repo does without access.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


class Hub:
    def __init__(self, repos: dict[str, tuple[str, dict[str, bytes]]]) -> None:
        """``repos``: repo id -> (commit, {file name: bytes})."""
        self.repos = repos
        self.log: list[tuple[str, str, str]] = []
        self.gated: set[str] = set()
        hub = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:
                pass

            def _send(self, code: int, body: bytes, headers: dict[str, str], head: bool) -> None:
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _serve(self, head: bool) -> None:
                path = unquote(self.path.split("?")[0])
                hub.log.append((self.command, path, self.headers.get("authorization", "")))
                if path.startswith("/api/models/"):
                    repo, _, rev = path[len("/api/models/"):].partition("/revision/")
                    if repo in hub.gated:
                        return self._send(401, b'{"error":"gated"}', {"X-Error-Code": "GatedRepo"}, head)
                    if repo in hub.repos and rev in ("main", hub.repos[repo][0]):
                        commit, files = hub.repos[repo]
                        body = json.dumps({"id": repo, "sha": commit,
                                           "siblings": [{"rfilename": f} for f in files]}).encode()
                        return self._send(200, body, {"Content-Type": "application/json"}, head)
                    return self._send(404, b'{"error":"not found"}', {"X-Error-Code": "RepoNotFound"}, head)
                for repo, (commit, files) in hub.repos.items():
                    prefix = f"/{repo}/resolve/"
                    if path.startswith(prefix):
                        rev, _, name = path[len(prefix):].partition("/")
                        if rev in ("main", commit) and name in files:
                            data = files[name]
                            return self._send(200, data, {
                                "X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                                "Content-Type": "application/octet-stream"}, head)
                        return self._send(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}, head)
                self._send(404, b"", {"X-Error-Code": "RepoNotFound"}, head)

            def do_GET(self) -> None:  # noqa: N802
                self._serve(False)

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
