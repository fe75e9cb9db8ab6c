"""The key lock: one holder at a time, served in turn, across threads and processes; a key
that rests when asked to, and stays quiet after a holder died with a request out."""

import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from suppression_admin.keys.lock import (
    FifoLock,
    KeyBusy,
    KeyResting,
    key_fingerprint,
    key_turn,
    request_out,
)
from suppression_admin.providers.errors import (
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderServerError,
    ProviderUnavailable,
)
from tests.conftest import PROJECT, process_env

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KEY = key_fingerprint("a-test-key")


def turn(fingerprint: str = KEY, wait: float = 5):
    return key_turn(fingerprint, provider="Woodpecker", wait_seconds=wait)


def hold_in_thread(seconds: float, started: threading.Event, fingerprint: str = KEY):
    def hold():
        with turn(fingerprint):
            started.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


def test_a_second_holder_waits_for_the_first():
    started = threading.Event()
    holder = hold_in_thread(0.3, started)
    started.wait(5)
    waited_from = time.monotonic()
    with turn():
        waited = time.monotonic() - waited_from
    holder.join()
    assert waited >= 0.2


def test_a_turn_that_does_not_come_is_a_provider_error_in_words():
    started = threading.Event()
    holder = hold_in_thread(0.5, started)
    started.wait(5)
    with pytest.raises(KeyBusy, match="busy with other requests") as busy, turn(wait=0.05):
        pass
    holder.join()
    assert isinstance(busy.value, ProviderError)
    assert busy.value.proves_not_applied  # nothing was sent


def test_other_keys_do_not_wait():
    started = threading.Event()
    holder = hold_in_thread(0.5, started)
    started.wait(5)
    begun = time.monotonic()
    with turn(key_fingerprint("another-key")):
        assert time.monotonic() - begun < 0.2
    holder.join()


def test_the_holder_may_take_it_again_on_the_same_thread():
    with turn(wait=1), turn(wait=0.05):
        pass  # no KeyBusy: re-entrant within a thread


def test_the_lock_is_named_by_a_hash_never_the_key():
    assert "secret" not in key_fingerprint("secret-key-value")
    assert len(key_fingerprint("secret-key-value")) == 16


def test_threads_are_served_in_order_of_arrival():
    lock = FifoLock()
    assert lock.acquire(1)
    order: list[int] = []

    def wait_then_take(n: int) -> None:
        assert lock.acquire(5)
        order.append(n)
        lock.release()

    threads = []
    for n in range(5):
        thread = threading.Thread(target=wait_then_take, args=(n,))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # arrive one after the other
    lock.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


def test_a_waiter_that_gave_up_is_skipped():
    lock = FifoLock()
    assert lock.acquire(1)
    assert not lock.acquire(0.05)  # gives up
    lock.release()
    assert lock.acquire(0.5)  # the turn was not lost with the one that gave up


def test_a_holder_that_lets_go_and_asks_again_queues_behind_a_waiter():
    got: list[str] = []
    first_in = threading.Event()

    def job_like(name: str, turns: int) -> None:
        for _ in range(turns):
            with turn():
                got.append(name)
                first_in.set()
                time.sleep(0.02)

    job = threading.Thread(target=job_like, args=("job", 5))
    job.start()
    first_in.wait(5)
    with turn():
        got.append("web")
    job.join()
    assert got.index("web") <= 2  # one turn of the job, at most two, never all five


def test_processes_on_one_key_take_turns_one_after_the_other(settings, tmp_path):
    out = tmp_path / "turns.txt"
    out.write_text("")
    env = process_env(settings)
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            [sys.executable, "-m", "tests.keys.holder", "turns", KEY, name, "12", "40", str(out)],
            cwd=PROJECT,
            env=env,
        )
        for name in "AB"
    ]
    for process in processes:
        assert process.wait(timeout=60) == 0
    sequence = out.read_text()
    assert sorted(sequence) == sorted("A" * 12 + "B" * 12)
    # Once both are in, neither takes two turns in a row while the other waits.
    both_in = max(sequence.index("A"), sequence.index("B"))
    overlap = sequence[both_in:].rstrip(sequence[-1])
    assert "AAA" not in overlap, sequence
    assert "BBB" not in overlap, sequence


def test_a_retry_after_rests_the_key_for_everyone(clock):
    refused = ProviderRateLimited("429", provider="Woodpecker", status=429, retry_after=30)
    with (
        pytest.raises(ProviderRateLimited),
        turn(),
        request_out(KEY, provider="Woodpecker", busy_for=35),
    ):
        raise refused
    with pytest.raises(KeyResting, match="asked us to wait") as quiet, turn():
        pass
    assert quiet.value.until == clock.now + timedelta(seconds=30)
    clock.sleep(31)
    with turn():
        pass  # rested


def test_a_request_answered_clears_its_mark():
    with turn(), request_out(KEY, provider="Woodpecker", busy_for=35):
        pass
    with turn():
        pass  # not quiet: the answer was in


def test_a_holder_killed_with_a_request_out_keeps_the_key_quiet(settings):
    holder = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "tests.keys.holder", "hold", KEY, "2"],
        cwd=PROJECT,
        env=process_env(settings),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "out"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        # The lock is free at once; the key is not: its request may still be running.
        with pytest.raises(KeyResting, match="may still be running") as quiet, turn():
            pass
        left = quiet.value.retry_after
        assert 0 < left <= 2
        time.sleep(left + 0.1)
        with turn():
            pass  # that request cannot still be running
    finally:
        if holder.poll() is None:
            holder.kill()


@pytest.mark.parametrize(
    ("failure", "still_quiet"),
    [
        (ProviderOutcomeUnknown("lost", provider="Woodpecker"), True),  # may still run
        (SystemExit(1), True),  # this process stopped with the request out
        (ProviderServerError("500", provider="Woodpecker", status=500), False),  # answered
        (ProviderUnavailable("refused", provider="Woodpecker", sent=False), False),  # not sent
    ],
)
def test_a_request_without_an_answer_keeps_the_key_quiet_until_it_cannot_still_run(
    clock, failure, still_quiet
):
    with pytest.raises(type(failure)), turn(), request_out(KEY, provider="Woodpecker", busy_for=35):
        raise failure
    if still_quiet:
        with pytest.raises(KeyResting, match="may still be running"), turn():
            pass
        clock.sleep(36)
    with turn():
        pass


def test_within_one_turn_a_request_waits_for_one_whose_answer_never_came(clock):
    lost = ProviderOutcomeUnknown("lost", provider="Woodpecker")
    with turn():
        with (
            pytest.raises(ProviderOutcomeUnknown),
            request_out(KEY, provider="Woodpecker", busy_for=35),
        ):
            raise lost
        with pytest.raises(KeyResting), request_out(KEY, provider="Woodpecker", busy_for=35):
            pass
