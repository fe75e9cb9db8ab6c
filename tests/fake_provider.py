"""A provider on loopback whose answers a test scripts, like ``responses`` does in-process.

A removal job sends its chunks over a connection of its own (providers.split), which
``responses`` cannot reach; this is a real HTTP server in a thread of the test process.

Per method, answers are used in the order they were added; the last one keeps answering.
An answer is a fixed one (``answer``), a function of the request (``on``), or a dropped
connection (``drop``: the request is read, maybe applied, and never answered).
"""

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    url: str  # the full URL, as the client sent it
    body: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


# A function of the request: (status, headers, body text), like a responses callback.
Callback = Callable[[Request], tuple[int, dict, str]]


class FakeProvider:
    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Request] = []
        self._answers: dict[str, list[Callback | None]] = {}
        self._lock = threading.Lock()
        self._handled = threading.Condition()
        self.handled = 0  # requests answered or dropped so far

    def on(self, method: str, callback: Callback) -> None:
        self._answers.setdefault(method, []).append(callback)

    def answer(
        self,
        method: str,
        *,
        status: int = 200,
        json_body: object = None,
        headers: dict | None = None,
    ) -> None:
        text = json.dumps(json_body if json_body is not None else {})
        self.on(method, lambda request: (status, headers or {}, text))

    def drop(self, method: str, *, then: Callable[[Request], object] | None = None) -> None:
        """The request is read (and ``then`` applied to it), and never answered."""

        def dropped(request: Request):
            if then is not None:
                then(request)

        dropped.drops = True  # type: ignore[attr-defined]
        self.on(method, dropped)

    def reset(self) -> None:
        """Forget the script (the requests seen so far are kept)."""
        with self._lock:
            self._answers.clear()

    def wait_handled(self, count: int, timeout: float = 10) -> None:
        """Until the server has answered (or dropped) ``count`` requests in all."""
        with self._handled:
            assert self._handled.wait_for(lambda: self.handled >= count, timeout)

    def sent(self, method: str) -> list[Request]:
        return [request for request in self.requests if request.method == method]

    def _next(self, method: str) -> Callback | None:
        with self._lock:
            waiting = self._answers.get(method) or [None]
            return waiting.pop(0) if len(waiting) > 1 else waiting[0]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        fake: FakeProvider = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        request = Request(self.command, f"{fake.url}{self.path}", body)
        with fake._lock:
            fake.requests.append(request)
        callback = fake._next(self.command)
        try:
            if callback is None:
                status, headers, text = 404, {}, json.dumps({"detail": "not scripted"})
            elif getattr(callback, "drops", False):
                callback(request)
                self.close_connection = True
                return
            else:
                status, headers, text = callback(request)
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away without reading: as designed
        finally:
            with fake._handled:
                fake.handled += 1
                fake._handled.notify_all()

    do_GET = do_DELETE = do_POST = _serve  # noqa: N815 - the names http.server dispatches to

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving_fake() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.fake = fake  # type: ignore[attr-defined]
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
