"""Doing work while a request is out, on the thread that sent it; and reading its answer
without waiting on our own delayed ACK.

A caller that must wait for each answer before sending the next request (Woodpecker takes
one at a time) can use the wait: inside ``while_waiting(work)``, ``work`` runs once the
request has been sent and before its answer is read. It runs on the sending thread: work on
a second thread competed with the request for the interpreter's lock and cost more time
than it saved.

Requests reaches the socket through urllib3, so the hook sits in urllib3's connection,
between sending a request and reading the response (``getresponse``). Where the request
never gets that far (no connection, or a transport that bypasses urllib3, such as the
``responses`` library in tests), ``work`` runs when the caller calls ``finish``.
"""

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from requests.adapters import HTTPAdapter
from urllib3 import poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_pending = threading.local()
_yield_cpu = getattr(os, "sched_yield", lambda: None)
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class WaitingWork:
    """Work to run once, while a request is out if it can be; ``finish`` makes sure it ran.

    A failure of the work is kept until ``finish``: the request it overlaps is not
    disturbed, and its answer is still read.
    """

    def __init__(self, work: Callable[[], object]) -> None:
        self._work = work
        self.ran = False
        self.result: object = None
        # How long it took: the request's own timing leaves it out.
        self.seconds = 0.0
        self._failure: Exception | None = None

    def run(self) -> None:
        if self.ran:
            return
        self.ran = True
        started = time.monotonic()
        try:
            self.result = self._work()
        except Exception as failure:  # kept for finish(), which raises it
            self._failure = failure
        finally:
            self.seconds = time.monotonic() - started

    def finish(self) -> object:
        """Run the work now if no request gave it the chance; re-raise its failure."""
        self.run()
        if self._failure is not None:
            raise self._failure
        return self.result


@contextmanager
def while_waiting(work: WaitingWork | None) -> Iterator[None]:
    """Run ``work`` during the next request this thread sends (see the module's text)."""
    _pending.work = work
    try:
        yield
    finally:
        _pending.work = None


def _run_pending() -> None:
    work: WaitingWork | None = getattr(_pending, "work", None)
    if work is not None:
        _pending.work = None
        # Our request may have woken a server on this machine (the sandbox, a local proxy),
        # and Linux tends to queue it on this very CPU: let it read the request before the
        # work takes the CPU, or it waits a scheduler slice (~3 ms) for its turn.
        _yield_cpu()
        work.run()


def _ack_promptly(sock: socket.socket | None) -> None:
    # A server that writes an answer's headers and body separately with Nagle's algorithm
    # on (Python's http.server does, by default) holds the body until the headers are
    # acknowledged, and Linux delays that acknowledgement by up to 40 ms: on every request.
    # Quick ACKs for this answer avoid the stall (Linux only; the option does not persist).
    # Through an HTTPS proxy the "socket" is urllib3's SSLTransport, which has no options.
    setsockopt = getattr(sock, "setsockopt", None)
    if setsockopt is not None and TCP_QUICKACK is not None:
        with suppress(OSError):
            setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)


class _Waiting:
    """Mixed into urllib3's connections: the request is sent, its answer not yet read."""

    def getresponse(self, *args, **kwargs):
        _run_pending()
        _ack_promptly(self.sock)
        return super().getresponse(*args, **kwargs)


class _WaitingHTTPConnection(_Waiting, HTTPConnection):
    pass


class _WaitingHTTPSConnection(_Waiting, HTTPSConnection):
    pass


class _WaitingHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WaitingHTTPConnection


class _WaitingHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WaitingHTTPSConnection


_POOLS = {"http": _WaitingHTTPPool, "https": _WaitingHTTPSPool}


class WaitingAdapter(HTTPAdapter):
    """A requests adapter whose connections run the thread's pending work (see above)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme == poolmanager.pool_classes_by_scheme:  # not SOCKS
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager
