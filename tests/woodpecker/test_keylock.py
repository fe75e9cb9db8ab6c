"""The per-key lock: one holder at a time per key, across threads (and so processes)."""

import threading
import time

import pytest

from suppression_admin.woodpecker.keylock import KeyBusy, key_fingerprint, one_request_at_a_time

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def hold_in_thread(key: str, seconds: float, started: threading.Event) -> threading.Thread:
    def hold():
        with one_request_at_a_time(key, wait_seconds=5):
            started.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


def test_a_second_holder_waits_for_the_first():
    started = threading.Event()
    holder = hold_in_thread("key-a", 0.3, started)
    started.wait(5)
    waited_from = time.monotonic()
    with one_request_at_a_time("key-a", wait_seconds=5):
        waited = time.monotonic() - waited_from
    holder.join()
    assert waited >= 0.2


def test_waiting_too_long_raises_key_busy_in_words():
    started = threading.Event()
    holder = hold_in_thread("key-b", 0.5, started)
    started.wait(5)
    with (
        pytest.raises(KeyBusy, match="did not finish within"),
        one_request_at_a_time("key-b", wait_seconds=0.05),
    ):
        pass
    holder.join()


def test_other_keys_do_not_wait():
    started = threading.Event()
    holder = hold_in_thread("key-c", 0.5, started)
    started.wait(5)
    begun = time.monotonic()
    with one_request_at_a_time("key-d", wait_seconds=5):
        assert time.monotonic() - begun < 0.2
    holder.join()


def test_the_holder_may_take_it_again_on_the_same_thread():
    with (
        one_request_at_a_time("key-e", wait_seconds=1),
        one_request_at_a_time("key-e", wait_seconds=0.05),
    ):
        pass  # no KeyBusy: re-entrant within a thread


def test_the_lock_is_named_by_a_hash_never_the_key():
    assert "secret" not in key_fingerprint("secret-key-value")
    assert len(key_fingerprint("secret-key-value")) == 16
