"""Woodpecker's documented rate limit, reproduced within this process.

Per API key, Woodpecker processes one request at a time; at most WOODPECKER_QUEUE_SIZE more
wait, each for at most WOODPECKER_QUEUE_WAIT_SECONDS; anything beyond is dropped at once.
The sandbox answers a dropped request 429. Runserver and the live-server test fixture are
one process with threads, so a lock is enough; several processes would each get their own.

The constants are read on every acquire (not bound at import), so tests can monkeypatch them.
"""

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

WOODPECKER_QUEUE_SIZE = 6
WOODPECKER_QUEUE_WAIT_SECONDS = 15.0


class OneAtATime:
    """A one-slot gate with a bounded, time-limited queue, and counters tests assert on.

    Counters (reset by ``reset()``):
    - ``requests_received``: every acquire attempt;
    - ``max_in_flight``: most requests ever inside the slot at once (1 unless the gate broke);
    - ``max_queued``: most requests ever waiting at once (0 means callers never overlapped);
    - ``rejected``: attempts refused because the queue was full or the wait ran out.
    """

    def __init__(self, queue_size: int | None = None, wait_seconds: float | None = None) -> None:
        self._queue_size = queue_size
        self._wait_seconds = wait_seconds
        self._condition = threading.Condition()
        self._in_flight = 0
        self._queued = 0
        self.requests_received = 0
        self.max_in_flight = 0
        self.max_queued = 0
        self.rejected = 0

    @property
    def in_flight(self) -> int:
        """Requests being processed right now (0 or 1)."""
        return self._in_flight

    def acquire(self) -> bool:
        """Take the slot, waiting in the queue if needed; False means "answer 429 now"."""
        queue_size = WOODPECKER_QUEUE_SIZE if self._queue_size is None else self._queue_size
        wait = WOODPECKER_QUEUE_WAIT_SECONDS if self._wait_seconds is None else self._wait_seconds
        with self._condition:
            self.requests_received += 1
            if self._in_flight:
                if self._queued >= queue_size:
                    self.rejected += 1
                    return False
                self._queued += 1
                self.max_queued = max(self.max_queued, self._queued)
                deadline = time.monotonic() + wait
                try:
                    while self._in_flight:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            self.rejected += 1
                            return False
                        self._condition.wait(remaining)
                finally:
                    self._queued -= 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            return True

    def release(self) -> None:
        with self._condition:
            self._in_flight -= 1
            self._condition.notify()

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """``with gate.slot() as admitted:``; the slot is released on exit if it was taken."""
        admitted = self.acquire()
        try:
            yield admitted
        finally:
            if admitted:
                self.release()

    def reset(self) -> None:
        """Zero the counters. Requests inside or waiting are left alone (they still release)."""
        with self._condition:
            self.requests_received = 0
            self.max_in_flight = self._in_flight
            self.max_queued = self._queued
            self.rejected = 0


_limiters: dict[str, OneAtATime] = {}
_limiters_lock = threading.Lock()


def limiter_for(api_key: str) -> OneAtATime:
    """The gate for one API key (keyed by a digest, so the key itself is not kept around)."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    with _limiters_lock:
        return _limiters.setdefault(digest, OneAtATime())


def reset_limiters() -> None:
    """Zero the counters of every key's gate (for tests and benchmarks)."""
    with _limiters_lock:
        for limiter in _limiters.values():
            limiter.reset()
