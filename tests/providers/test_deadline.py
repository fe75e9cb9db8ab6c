"""The overall deadline, against a real loopback server that trickles its answer."""

import http.server
import threading
import time

import pytest

from suppression_admin.connections import woodpecker_timeouts
from suppression_admin.providers.base import Timeouts
from suppression_admin.providers.errors import ProviderOutcomeUnknown, ProviderUnavailable
from suppression_admin.providers.walead import WaleadClient


class TricklingHandler(http.server.BaseHTTPRequestHandler):
    """Answers 200 with a body sent one byte every 0.1 s: never idle long enough to time out."""

    def _trickle(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b'{"success": true, "unblocked": 1}' + b" " * 100
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_DELETE = _trickle  # noqa: N815 - names http.server dispatches to

    def log_message(self, *args):
        pass


@pytest.fixture
def trickling_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TricklingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client_for(url: str) -> WaleadClient:
    return WaleadClient(
        base_url=url, api_key="k", timeouts=Timeouts(connect=1, read=1, deadline=0.5)
    )


def test_a_write_answer_slower_than_the_deadline_is_unknown(trickling_server):
    started = time.monotonic()
    with pytest.raises(ProviderOutcomeUnknown, match="longer than"):
        client_for(trickling_server).unblock(["id-1"])
    assert time.monotonic() - started < 3  # the full answer would take over 10 s


def test_a_read_slower_than_the_deadline_is_unavailable(trickling_server):
    with pytest.raises(ProviderUnavailable, match="longer than"):
        client_for(trickling_server).list_blocked_leads()


def test_woodpecker_read_timeout_outlasts_its_15_second_queue():
    assert woodpecker_timeouts().read > 15
    assert woodpecker_timeouts().deadline > woodpecker_timeouts().read
