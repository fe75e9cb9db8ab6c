"""A real HTTP server on loopback whose answers a test writes as a function.

For behaviour that only exists over a real connection (``responses`` replaces the transport
and never sends anything).
"""

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# (method, path with query, JSON body or None) -> (status, JSON answer)
Answerer = Callable[[str, str, object], tuple[int, object]]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        status, answer = self.server.answerer(self.command, self.path, body)  # type: ignore[attr-defined]
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(answerer: Answerer) -> Iterator[str]:
    """Serve on a free loopback port; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.answerer = answerer  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
