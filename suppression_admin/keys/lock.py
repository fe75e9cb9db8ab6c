"""One request at a time per provider API key, across every process of ours.

Woodpecker processes one request at a time per key and drops what overflows its short
queue (shared/PROVIDERS.md), so web look-ups and every worker take turns on the key. A job
holds the key for one request (and the writes just before it), so a look-up made meanwhile
waits about one request.

A turn (``key_turn``) is served in order of arrival, and whoever lets go and asks again
queues behind those already waiting:
- among the threads of one process: ``FifoLock``, a first-come, first-served queue;
- across processes on PostgreSQL: an advisory lock, held on one long-lived connection per
  process and key (used for nothing else), waited for with ``lock_timeout``. PostgreSQL
  queues the waiters and frees the lock if the process dies. Works across hosts.
- across processes on SQLite (one host): ``flock`` on two files per key. A waiter passes
  the *queue* file to reach the *slot* file, so a holder that lets the slot go and asks
  again must pass the queue, where the others already wait. The kernel frees both if the
  process dies.

What a key remembers between turns (``KeyState``): a request is out until its answer is in
(``request_out``); the provider asked us to rest until a time (Retry-After). A holder that
died with a request out leaves its marker behind: the key then stays quiet until that
request cannot still be running at the provider (its read timeout since it was sent). A
turn on a quiet key is refused with KeyResting, which says until when. On PostgreSQL the
state is a row (keys.models.KeyState) written on the lock's own connection, committed at
once; on SQLite it is the content of the key's slot file.

Keys are named by a hash (``key_fingerprint``), never the key itself.
"""

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connections

from suppression_admin.providers.errors import ProviderError, ProviderUnavailable


def key_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


class KeyBusy(ProviderUnavailable):
    """The key's turn did not come within the wait allowed. Nothing was sent."""


class KeyResting(KeyBusy):
    """The key is quiet until ``until``. Nothing was sent."""

    def __init__(self, message: str, *, provider: str, until: datetime) -> None:
        seconds = max(0.0, (until - _now()).total_seconds())
        super().__init__(message, provider=provider, retry_after=seconds, sent=False)
        self.until = until


@dataclass
class KeyState:
    request_out_until: datetime | None = None
    rest_until: datetime | None = None
    rest_reason: str = ""


# -- turns --------------------------------------------------------------------------------

_held = threading.local()


@contextmanager
def key_turn(fingerprint: str, *, provider: str, wait_seconds: float) -> Iterator[None]:
    """Hold the key. Re-entrant on one thread (a job's turn covers its client's requests).

    Raises KeyBusy when the turn did not come within ``wait_seconds``, KeyResting when the
    key is quiet; in both cases the key is not held and nothing may be sent.
    """
    held: set[str] = _held.__dict__.setdefault("fingerprints", set())
    if fingerprint in held:
        yield
        return
    key = _key(fingerprint)
    deadline = time.monotonic() + wait_seconds
    if not key.threads.acquire(wait_seconds):
        raise _busy(provider, wait_seconds)
    try:
        if not key.acquire(max(0.0, deadline - time.monotonic())):
            raise _busy(provider, wait_seconds)
        try:
            key.held_state = key.read()
            _refuse_if_quiet(key, provider, key.held_state)
            held.add(fingerprint)
            try:
                yield
            finally:
                held.discard(fingerprint)
        finally:
            key.release()
    finally:
        key.threads.release()


@contextmanager
def request_out(fingerprint: str, *, provider: str, busy_for: float) -> Iterator[None]:
    """Around one request, during the key's turn: the key knows a request is out until its
    answer is in (``busy_for``: how long it may run at the provider). An answer that asks
    us to wait (Retry-After) rests the key for every job and look-up.

    A request whose answer never came (lost, timed out, or this process interrupted) may
    still be running at the provider: its mark stays until ``busy_for`` has passed, and no
    request goes out with the key before, from this turn or any other.
    """
    held: set[str] = _held.__dict__.setdefault("fingerprints", set())
    assert fingerprint in held, "request_out is only for the key's holder"
    key = _key(fingerprint)
    state = key.held_state  # read when the turn began; only the holder changes it
    _refuse_if_quiet(key, provider, state)
    state.request_out_until = _now() + timedelta(seconds=busy_for)
    key.write(state)
    over = False  # answered, or never sent: nothing of it can still be running
    try:
        yield
        over = True
    except BaseException as failure:
        error = failure if isinstance(failure, ProviderError) else failure.__cause__
        if isinstance(error, ProviderError) and not isinstance(error, KeyBusy):
            over = error.status is not None or not error.sent
            if error.retry_after:
                state.rest_until = _now() + timedelta(seconds=error.retry_after)
                state.rest_reason = f"{provider} asked us to wait ({error.status or 'no status'})."
        raise
    finally:
        if over:
            state.request_out_until = None
        else:
            # No answer: it may still be queued or running at the provider after our own
            # wait gave up. Quiet for another full wait from now.
            later = _now() + timedelta(seconds=busy_for)
            state.request_out_until = max(state.request_out_until or later, later)
        key.write(state)


def one_request_at_a_time(
    api_key: str, *, provider: str, wait_seconds: float, busy_for: float
) -> Callable[[], AbstractContextManager[None]]:
    """A client's request guard: each request takes the key's turn and is marked out."""
    fingerprint = key_fingerprint(api_key)

    @contextmanager
    def guard() -> Iterator[None]:
        with (
            key_turn(fingerprint, provider=provider, wait_seconds=wait_seconds),
            request_out(fingerprint, provider=provider, busy_for=busy_for),
        ):
            yield

    return guard


def _refuse_if_quiet(key: "_Key", provider: str, state: KeyState) -> None:
    now = _now()
    if state.request_out_until and state.request_out_until > now:
        raise KeyResting(
            f"A request to {provider} whose answer never came (its process may have stopped) "
            f"may still be running there; to keep one request at a time, nothing is sent with "
            f"this account's key until {_clock(state.request_out_until)} UTC. Try again then.",
            provider=provider,
            until=state.request_out_until,
        )
    if state.rest_until and state.rest_until > now:
        raise KeyResting(
            f"{provider} asked us to wait: nothing is sent with this account's key until "
            f"{_clock(state.rest_until)} UTC. Try again then.",
            provider=provider,
            until=state.rest_until,
        )
    if state.request_out_until:  # a request that can no longer be running
        state.request_out_until = None
        key.write(state)


def _busy(provider: str, wait_seconds: float) -> KeyBusy:
    return KeyBusy(
        f"{provider} is busy with other requests for this account (a bulk job may be "
        f"running): our turn did not come within {wait_seconds:.0f} s. Nothing was sent; "
        "try again in a moment.",
        provider=provider,
        sent=False,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S")


# -- threads of one process ----------------------------------------------------------------


class FifoLock:
    """A lock whose waiters are served in order of arrival, with a timeout."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._gave_up: set[int] = set()

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._condition:
            ticket = self._next_ticket
            self._next_ticket += 1
            while self._serving != ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._gave_up.add(ticket)
                    return False
                self._condition.wait(remaining)
            return True

    def release(self) -> None:
        with self._condition:
            self._serving += 1
            while self._serving in self._gave_up:
                self._gave_up.discard(self._serving)
                self._serving += 1
            self._condition.notify_all()


# -- across processes ----------------------------------------------------------------------


class _Key:
    """One key, in this process: its thread queue, and the lock and state shared with others."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self.threads = FifoLock()
        self.held_state = KeyState()  # as read when this process's current turn began

    def acquire(self, timeout: float) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def read(self) -> KeyState:
        raise NotImplementedError

    def write(self, state: KeyState) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _PostgresKey(_Key):
    def __init__(self, fingerprint: str) -> None:
        super().__init__(fingerprint)
        self.lock_id = int(fingerprint, 16) & 0x7FFF_FFFF_FFFF_FFFF  # a signed bigint
        self._connection: psycopg.Connection | None = None
        self._lock_timeout = ""
        self._held = False

    def _db(self) -> psycopg.Connection:
        lost = self._connection is not None and (self._connection.closed or self._connection.broken)
        if lost and self._held:
            # The lock went with the connection: another process may hold the key now.
            self._connection = None
            self._held = False
            raise KeyBusy(
                "The connection that held our turn on the key was lost; nothing more is sent "
                "in this turn.",
                provider="provider",
                sent=False,
            )
        if self._connection is None or self._connection.closed or self._connection.broken:
            params = connections["default"].get_connection_params()
            params.pop("cursor_factory", None)
            self._connection = psycopg.connect(**params, autocommit=True)
            # A key's state changes twice per request. Losing the last change in a crash
            # of PostgreSQL itself costs at most one request queued behind another at the
            # provider (every lock is gone then anyway), so these commits need not wait for
            # the disk (PostgreSQL's documented "asynchronous commit", this session only).
            self._connection.execute("SET synchronous_commit TO off")
            self._lock_timeout = ""
        return self._connection

    def acquire(self, timeout: float) -> bool:
        db = self._db()
        # lock_timeout 0 would mean "wait forever".
        wait = f"{max(1, int(timeout * 1000))}ms"
        if wait != self._lock_timeout:
            db.execute("SELECT set_config('lock_timeout', %s, false)", [wait])
            self._lock_timeout = wait
        try:
            db.execute("SELECT pg_advisory_lock(%s)", [self.lock_id])
        except psycopg.errors.LockNotAvailable:
            return False
        self._held = True
        return True

    def release(self) -> None:
        try:
            self._db().execute("SELECT pg_advisory_unlock(%s)", [self.lock_id])
        except (psycopg.OperationalError, KeyBusy):
            self.close()  # the connection is gone, and the lock with it
        finally:
            self._held = False

    def read(self) -> KeyState:
        row = (
            self._db()
            .execute(
                "SELECT request_out_until, rest_until, rest_reason FROM keys_keystate "
                "WHERE fingerprint = %s",
                [self.fingerprint],
            )
            .fetchone()
        )
        return KeyState(*row) if row else KeyState()

    def write(self, state: KeyState) -> None:
        self._db().execute(
            "INSERT INTO keys_keystate (fingerprint, request_out_until, rest_until, rest_reason) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (fingerprint) DO UPDATE SET "
            "request_out_until = EXCLUDED.request_out_until, rest_until = EXCLUDED.rest_until, "
            "rest_reason = EXCLUDED.rest_reason",
            [self.fingerprint, state.request_out_until, state.rest_until, state.rest_reason],
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _FileKey(_Key):
    def __init__(self, fingerprint: str) -> None:
        super().__init__(fingerprint)
        self._slot: int | None = None  # the slot file, locked, while this process holds it

    def _path(self, kind: str) -> Path:
        folder = Path(settings.KEY_LOCK_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{self.fingerprint}.{kind}"

    def acquire(self, timeout: float) -> bool:
        self._slot = _flock_through_queue(self._path("queue"), self._path("slot"), timeout)
        return self._slot is not None

    def release(self) -> None:
        assert self._slot is not None
        os.close(self._slot)  # closing the file lets the lock go
        self._slot = None

    def read(self) -> KeyState:
        if self._slot is not None:
            text = os.pread(self._slot, STATE_BYTES, 0)
        else:
            try:
                text = self._path("slot").read_bytes()
            except FileNotFoundError:
                text = b""
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError:
            data = {}  # a half-written state (a reader without the lock): nothing known
        return KeyState(
            request_out_until=_parse_time(data.get("request_out_until")),
            rest_until=_parse_time(data.get("rest_until")),
            rest_reason=data.get("rest_reason", ""),
        )

    def write(self, state: KeyState) -> None:
        assert self._slot is not None, "only the holder writes the key's state"
        data = json.dumps(
            {
                "request_out_until": _format_time(state.request_out_until),
                "rest_until": _format_time(state.rest_until),
                "rest_reason": state.rest_reason[:300],
            }
        ).encode()
        # Padded to a fixed size and written in place: no truncating, and a reader never
        # sees the end of a longer earlier state.
        os.pwrite(self._slot, data.ljust(STATE_BYTES), 0)


STATE_BYTES = 1024


def _flock_through_queue(queue: Path, slot: Path, timeout: float) -> int | None:
    """The slot file's descriptor, locked after passing the queue; None after ``timeout``.

    A free key is taken at once. Otherwise ``flock`` must wait, and it cannot time out, so
    the waiting runs on a helper thread: a caller that gives up leaves the helper to let
    both files go the moment it gets through.
    """
    queue_fd = os.open(queue, os.O_RDWR | os.O_CREAT, 0o600)
    slot_fd = os.open(slot, os.O_RDWR | os.O_CREAT, 0o600)
    if _flock_now(queue_fd):
        if _flock_now(slot_fd):
            os.close(queue_fd)  # closing a file lets its lock go
            return slot_fd
        # First in the queue: wait for the slot alone (the queue stays ours meanwhile).
        return _flock_waiting(None, slot_fd, queue_fd, timeout)
    return _flock_waiting(queue_fd, slot_fd, queue_fd, timeout)


def _flock_now(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _flock_waiting(
    queue_fd: int | None, slot_fd: int, queue_file: int, timeout: float
) -> int | None:
    handover = threading.Lock()
    got: list[int] = []
    arrived = threading.Event()
    gave_up = False

    def take() -> None:
        try:
            if queue_fd is not None:
                fcntl.flock(queue_fd, fcntl.LOCK_EX)
            fcntl.flock(slot_fd, fcntl.LOCK_EX)
        finally:
            os.close(queue_file)
        with handover:
            if gave_up:
                os.close(slot_fd)
                return
            got.append(slot_fd)
            arrived.set()

    threading.Thread(target=take, name="key turn", daemon=True).start()
    if not arrived.wait(timeout):
        with handover:
            if not got:
                gave_up = True
                return None
    return got[0]


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _format_time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


_keys: dict[tuple[str, str], _Key] = {}
_keys_lock = threading.Lock()


def _key(fingerprint: str) -> _Key:
    vendor = connections["default"].vendor
    with _keys_lock:
        key = _keys.get((vendor, fingerprint))
        if key is None:
            kind = _PostgresKey if vendor == "postgresql" else _FileKey
            key = _keys[(vendor, fingerprint)] = kind(fingerprint)
        return key


def keys_forget() -> None:
    """Close this process's key connections and forget its keys (for tests and shutdown).

    Only when no turn is held in this process.
    """
    with _keys_lock:
        for key in _keys.values():
            key.close()
        _keys.clear()
