"""Work done while a request is out, over a real connection."""

import socket
import threading
import time

import pytest

from suppression_admin.providers import waiting
from suppression_admin.providers.base import Timeouts
from suppression_admin.providers.errors import ProviderUnavailable
from suppression_admin.providers.waiting import WaitingWork
from suppression_admin.providers.woodpecker import WoodpeckerClient
from tests.http_server import serving


def client_for(base_url: str) -> WoodpeckerClient:
    return WoodpeckerClient(base_url=base_url, api_key="test-key", retry_reads=False)


def test_the_work_runs_after_the_request_arrived_and_before_the_answer_is_read():
    arrived = threading.Event()
    work_done = threading.Event()

    def answer(method, path, body):
        arrived.set()
        # The answer waits for the work: if the work only ran after the answer was read,
        # this would time out and say so.
        return 200, {"emails": body["emails"] if work_done.wait(5) else []}

    seen_by_the_work: list[bool] = []

    def work():
        seen_by_the_work.append(arrived.wait(5))
        work_done.set()

    with serving(answer) as base_url:
        meanwhile = WaitingWork(work)
        removed = client_for(base_url).remove(["a@example.com"], while_out=meanwhile)

    assert meanwhile.ran
    assert seen_by_the_work == [True]
    assert removed == ["a@example.com"]


def test_work_for_a_request_that_never_went_out_runs_when_finished():
    calls: list[str] = []
    meanwhile = WaitingWork(lambda: calls.append("ran") or "result")
    # Nothing listens on port 9 of loopback: the connection is refused.
    with pytest.raises(ProviderUnavailable):
        client_for("http://127.0.0.1:9").remove(["a@example.com"], while_out=meanwhile)
    assert not meanwhile.ran
    assert meanwhile.finish() == "result"
    assert calls == ["ran"]
    meanwhile.finish()
    assert calls == ["ran"]  # once only


def test_a_failing_work_does_not_disturb_the_request_and_is_raised_by_finish():
    def work():
        raise RuntimeError("the database went away")

    with serving(lambda method, path, body: (200, {"emails": body["emails"]})) as base_url:
        meanwhile = WaitingWork(work)
        removed = client_for(base_url).remove(["a@example.com"], while_out=meanwhile)
    assert removed == ["a@example.com"]
    assert meanwhile.ran
    with pytest.raises(RuntimeError, match="went away"):
        meanwhile.finish()


def test_work_is_not_left_behind_for_a_later_request():
    runs: list[str] = []
    with serving(lambda method, path, body: (200, {"emails": []})) as base_url:
        client = client_for(base_url)
        with pytest.raises(ProviderUnavailable):
            client_for("http://127.0.0.1:9").remove(
                ["a@example.com"], while_out=WaitingWork(lambda: runs.append("stale"))
            )
        client.remove(["b@example.com"])
    assert runs == []


class RecordingSocket:
    def __init__(self) -> None:
        self.options: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options.append((level, option, value))


@pytest.mark.skipif(waiting.TCP_QUICKACK is None, reason="TCP_QUICKACK is Linux's")
def test_every_answer_is_read_with_quick_acks(monkeypatch):
    # A server with Nagle's algorithm on holds an answer's body until its headers are
    # acknowledged; a delayed ACK would stall every request by up to 40 ms.
    asked: list[socket.socket] = []
    original = waiting._ack_promptly
    monkeypatch.setattr(waiting, "_ack_promptly", lambda sock: (asked.append(sock), original(sock)))
    with serving(lambda method, path, body: (200, {"emails": body["emails"]})) as base_url:
        client = client_for(base_url)
        client.remove(["a@example.com"])
        client.remove(["b@example.com"])
    assert len(asked) == 2
    assert all(isinstance(sock, socket.socket) for sock in asked)

    recording = RecordingSocket()
    waiting._ack_promptly(recording)
    assert recording.options == [(socket.IPPROTO_TCP, waiting.TCP_QUICKACK, 1)]


class RecordingCallLog:
    def __init__(self) -> None:
        self.answers: list[dict] = []

    def started(self, **request) -> object:
        return object()

    def finished(self, handle, **answer) -> None:
        self.answers.append(answer)


def test_the_work_does_not_count_against_the_requests_deadline_or_duration():
    log = RecordingCallLog()
    with serving(lambda method, path, body: (200, {"emails": body["emails"]})) as base_url:
        client = WoodpeckerClient(
            base_url=base_url,
            api_key="test-key",
            timeouts=Timeouts(connect=1.0, read=1.0, deadline=0.5),
            call_log=log,
        )
        slow_work = WaitingWork(lambda: time.sleep(0.8))  # longer than the whole deadline
        removed = client.remove(["a@example.com"], while_out=slow_work)
    assert slow_work.ran
    assert removed == ["a@example.com"]
    assert log.answers[0]["error"] == ""
    assert log.answers[0]["duration_ms"] < 500
