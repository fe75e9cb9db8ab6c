"""At most one Woodpecker request in flight per API key, across every process of ours.

Woodpecker processes one request at a time per key and drops what overflows its short
queue, so web look-ups and every worker must take turns. The lock lives where all our
processes meet:

- PostgreSQL: a session advisory lock, held on a dedicated connection (so it never mixes
  with the audit's own transactions). It works across hosts and is released by the server
  if the process dies.
- SQLite (a single-host deployment): ``flock`` on a file under ``var/locks``, released by
  the kernel if the process dies.

The lock is named by a hash of the key, never the key itself.
"""

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

LOCK_DIR = settings.BASE_DIR / "var" / "locks"
POLL_SECONDS = 0.005


class KeyBusy(Exception):
    """Another request for this key did not finish within the wait allowed."""


def key_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


_held = threading.local()


@contextmanager
def one_request_at_a_time(api_key: str, *, wait_seconds: float) -> Iterator[None]:
    """Hold the key's lock for the duration of the block; raise KeyBusy after waiting.

    Re-entrant within a thread: a job holds it across claiming and sending a chunk, and the
    client's own per-request guard inside that block then costs nothing.
    """
    with key_lock(key_fingerprint(api_key), wait_seconds=wait_seconds):
        yield


@contextmanager
def key_lock(fingerprint: str, *, wait_seconds: float) -> Iterator[None]:
    """The same lock, named by the key's fingerprint: for a job whose key is gone."""
    held: set[str] = _held.__dict__.setdefault("fingerprints", set())
    if fingerprint in held:
        yield
        return
    locked = _advisory_lock if connections["default"].vendor == "postgresql" else _file_lock
    with locked(fingerprint, wait_seconds):
        held.add(fingerprint)
        try:
            yield
        finally:
            held.discard(fingerprint)


@contextmanager
def _file_lock(fingerprint: str, wait_seconds: float) -> Iterator[None]:
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    # A fresh open file description per acquisition: flock then also excludes other
    # threads of this process, not only other processes.
    fd = os.open(LOCK_DIR / f"woodpecker-{fingerprint}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _poll(lambda: _try_flock(fd), wait_seconds)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def _advisory_lock(fingerprint: str, wait_seconds: float) -> Iterator[None]:
    key = int(fingerprint, 16) & 0x7FFF_FFFF_FFFF_FFFF  # pg advisory keys are signed bigint
    default = connections["default"]
    # A connection of its own, for nothing but the lock (the same database as the default
    # connection, the test database in tests); closing it also frees the lock.
    connection = type(default)(dict(default.settings_dict), alias="woodpecker-key-lock")
    try:
        with connection.cursor() as cursor:

            def attempt() -> bool:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                return bool(cursor.fetchone()[0])

            _poll(attempt, wait_seconds)
            try:
                yield
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    finally:
        connection.close()


def _poll(attempt, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    delay = POLL_SECONDS
    while not attempt():
        if time.monotonic() >= deadline:
            raise KeyBusy(
                f"Another Woodpecker request with this API key did not finish within "
                f"{wait_seconds:.0f} s."
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
