"""A request sent in two steps (providers.split): the caller's work runs while it is out.

Over a real loopback server: ``responses`` cannot reach this path, which opens its own
connection.
"""

import json
import socket
import time

import pytest

from suppression_admin.providers.base import Timeouts
from suppression_admin.providers.errors import (
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderUnavailable,
)
from suppression_admin.providers.woodpecker import WoodpeckerClient
from tests.fake_provider import serving_fake


class Log:
    def __init__(self):
        self.events = []

    def started(self, *, method, path, item_count, body):
        self.events.append(("started", method))
        return len(self.events)

    def finished(self, handle, *, status, answer_excerpt, error, sent_at, duration_ms):
        self.events.append(("finished", status, error, duration_ms))


def client(url: str, log=None, read: float = 5) -> WoodpeckerClient:
    return WoodpeckerClient(
        base_url=f"{url}/rest",
        api_key="k",
        timeouts=Timeouts(connect=2, read=read, deadline=10),
        call_log=log,
    )


def test_the_work_runs_once_the_request_is_out_and_before_its_answer_is_read():
    with serving_fake() as fake:
        order = []

        def woodpecker(request):
            order.append("server has it")
            time.sleep(0.1)
            return 200, {}, json.dumps({"emails": json.loads(request.body)["emails"]})

        fake.on("DELETE", woodpecker)
        log = Log()
        woodpecker_client = client(fake.url, log)
        request = woodpecker_client.removal_request(["a@x.com"])
        began = time.monotonic()

        def meanwhile():
            fake.wait_handled(0)  # nothing to wait for: just mark the moment
            order.append("meanwhile")
            time.sleep(0.05)

        answer = woodpecker_client.send_while(request, meanwhile=meanwhile)
        took = time.monotonic() - began

    assert woodpecker_client.removed_by(answer) == ["a@x.com"]
    assert sorted(order) == ["meanwhile", "server has it"]
    assert took < 0.14  # the 50 ms of work overlapped the 100 ms answer
    assert [event[0] for event in log.events] == ["started", "finished"]
    assert log.events[1][3] >= 100  # observed: from sending to the answer in hand


def test_a_kept_alive_connection_carries_the_next_request_and_a_closed_one_is_reopened():
    with serving_fake() as fake:
        fake.on("DELETE", lambda request: (200, {}, json.dumps({"emails": []})))
        woodpecker_client = client(fake.url)
        for _ in range(3):
            woodpecker_client.send_while(
                woodpecker_client.removal_request(["a@x.com"]), meanwhile=lambda: None
            )
        woodpecker_client._split_sender._connection.sock.shutdown(socket.SHUT_RDWR)
        woodpecker_client.send_while(
            woodpecker_client.removal_request(["b@x.com"]), meanwhile=lambda: None
        )
    assert len(fake.sent("DELETE")) == 4  # nothing lost, nothing sent twice


def test_a_dropped_answer_is_an_unknown_outcome_and_the_work_still_ran():
    with serving_fake() as fake:
        fake.drop("DELETE")
        log = Log()
        ran = []
        with pytest.raises(ProviderOutcomeUnknown, match="whether it applied"):
            client(fake.url, log).send_while(
                WoodpeckerClient.removal_request(client(fake.url), ["a@x.com"]),
                meanwhile=lambda: ran.append(1),
            )
    assert ran == [1]
    assert log.events[1][1] is None  # no status: no answer
    assert "unknown" in log.events[1][2]


def test_no_connection_proves_nothing_was_sent_and_the_work_still_runs():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    ran = []
    woodpecker_client = client(f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderUnavailable, match="could not be reached") as refused:
        woodpecker_client.send_while(
            woodpecker_client.removal_request(["a@x.com"]), meanwhile=lambda: ran.append(1)
        )
    assert refused.value.proves_not_applied
    assert ran == [1]


def test_a_slow_answer_is_an_unknown_outcome():
    with serving_fake() as fake:

        def slow(request):
            time.sleep(1)
            return 200, {}, json.dumps({"emails": []})

        fake.on("DELETE", slow)
        woodpecker_client = client(fake.url, read=0.2)
        with pytest.raises(ProviderOutcomeUnknown, match="did not answer in time"):
            woodpecker_client.send_while(
                woodpecker_client.removal_request(["a@x.com"]), meanwhile=lambda: None
            )


def test_the_answer_is_read_and_recorded_before_the_works_failure_is_raised():
    with serving_fake() as fake:
        fake.answer("DELETE", status=429, headers={"Retry-After": "3"})
        log = Log()
        woodpecker_client = client(fake.url, log)

        def fails():
            raise RuntimeError("the work failed")

        with pytest.raises(RuntimeError, match="the work failed") as failed:
            woodpecker_client.send_while(
                woodpecker_client.removal_request(["a@x.com"]), meanwhile=fails
            )
    assert isinstance(failed.value.__cause__, ProviderRateLimited)
    assert log.events[1][1] == 429


def test_plain_http_through_a_proxy_names_the_whole_url(monkeypatch):
    with serving_fake() as proxy:
        proxy.on("DELETE", lambda request: (200, {}, json.dumps({"emails": []})))
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        woodpecker_client = client("http://woodpecker.example")
        woodpecker_client.send_while(
            woodpecker_client.removal_request(["a@x.com"]), meanwhile=lambda: None
        )
    assert proxy.sent("DELETE")[0].url.endswith(
        "http://woodpecker.example/rest/v2/blacklist/emails"
    )
