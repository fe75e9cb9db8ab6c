"""OneAtATime, Woodpecker's one-request-at-a-time gate, driven directly with threads."""

import threading
import time

import pytest

from suppression_admin.sandbox import ratelimit
from suppression_admin.sandbox.ratelimit import OneAtATime


def acquire_in_thread(gate: OneAtATime) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run() -> None:
        result["admitted"] = gate.acquire()
        result["at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def wait_until_queued(gate: OneAtATime, count: int) -> None:
    deadline = time.monotonic() + 2
    while gate._queued < count:
        assert time.monotonic() < deadline, "the waiter never queued"
        time.sleep(0.005)


def test_a_second_request_waits_until_the_first_is_done():
    gate = OneAtATime(queue_size=6, wait_seconds=2)
    assert gate.acquire()
    thread, result = acquire_in_thread(gate)
    wait_until_queued(gate, 1)
    assert "admitted" not in result  # still waiting
    released_at = time.monotonic()
    gate.release()
    thread.join(2)
    assert result["admitted"] is True
    assert result["at"] >= released_at
    gate.release()
    assert gate.max_in_flight == 1
    assert gate.max_queued == 1
    assert gate.requests_received == 2


def test_a_request_beyond_the_queue_is_refused_at_once():
    gate = OneAtATime(queue_size=1, wait_seconds=2)
    assert gate.acquire()
    waiter, result = acquire_in_thread(gate)
    wait_until_queued(gate, 1)
    started = time.monotonic()
    assert gate.acquire() is False
    assert time.monotonic() - started < 0.1
    assert gate.rejected == 1
    gate.release()
    waiter.join(2)
    assert result["admitted"] is True
    gate.release()


def test_a_request_that_waits_too_long_is_refused():
    gate = OneAtATime(queue_size=6, wait_seconds=0.1)
    assert gate.acquire()
    started = time.monotonic()
    assert gate.acquire() is False
    assert 0.1 <= time.monotonic() - started < 1.0
    gate.release()
    assert gate.acquire() is True  # the slot is free again
    gate.release()


def test_module_constants_are_read_on_each_acquire(monkeypatch):
    monkeypatch.setattr(ratelimit, "WOODPECKER_QUEUE_SIZE", 0)
    gate = OneAtATime()
    assert gate.acquire()
    assert gate.acquire() is False
    gate.release()


def test_many_concurrent_callers_never_overlap():
    gate = OneAtATime(queue_size=20, wait_seconds=5)
    inside = 0
    overlaps = []
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside
        with gate.slot() as admitted:
            assert admitted
            with lock:
                inside += 1
                overlaps.append(inside)
            time.sleep(0.01)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert max(overlaps) == 1
    assert gate.max_in_flight == 1
    assert gate.requests_received == 10
    assert gate.rejected == 0


def test_slot_releases_even_when_the_work_fails():
    gate = OneAtATime(queue_size=0, wait_seconds=0)
    with pytest.raises(RuntimeError), gate.slot():
        raise RuntimeError("boom")
    with gate.slot() as admitted:
        assert admitted


def test_reset_zeroes_the_counters():
    gate = OneAtATime(queue_size=0, wait_seconds=0)
    with gate.slot():
        assert gate.acquire() is False
    gate.reset()
    assert (gate.requests_received, gate.max_in_flight, gate.max_queued, gate.rejected) == (
        0,
        0,
        0,
        0,
    )


def test_each_key_has_its_own_gate():
    assert ratelimit.limiter_for("key-a") is ratelimit.limiter_for("key-a")
    assert ratelimit.limiter_for("key-a") is not ratelimit.limiter_for("key-b")
    with ratelimit.limiter_for("key-a").slot() as admitted:
        assert admitted
        with ratelimit.limiter_for("key-b").slot() as other:
            assert other
