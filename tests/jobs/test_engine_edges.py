"""Failures of our own and races: a lease lost, the writing failing, a stop's cause, a web
cancel meeting a worker. Whatever happens, every answer that came stays in the audit."""

from datetime import timedelta

import pytest

from suppression_admin.audit.models import EventKind, ItemOutcome, OperationStatus
from suppression_admin.jobs import engine
from suppression_admin.jobs.engine import LeaseLost, job_run
from suppression_admin.jobs.models import Chunk, ChunkStatus, Job
from suppression_admin.jobs.services import job_cancel
from tests.jobs.test_engine_crash_states import killed_while_sending, statuses
from tests.jobs.test_engine_woodpecker import (
    cancel_while_the_request_is_out,
    deletes,
    lookup_answering,
    remove_answering,
)
from tests.woodpecker.factories import TEST_WORKER, addresses, run, start_job

pytestmark = pytest.mark.usefixtures("live_providers")


def taken_over_during_the_writing(monkeypatch, job, *, request: int):
    """Another worker takes the job while its ``request``-th request is out."""
    real = engine._while_out
    seen = []

    def while_out(*args, **kwargs):
        seen.append(1)
        if len(seen) == request:
            Job.objects.filter(pk=job.pk).update(owner="another-worker")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_while_out", while_out)


def test_a_lease_lost_mid_run_keeps_every_answer_that_came(
    operator, clock, fake_woodpecker, monkeypatch
):
    emails = addresses(1500)
    listed = set(emails[:250] + emails[500:])  # a quarter of the first chunk is not listed
    job = start_job(operator, emails)
    fake_woodpecker.on("DELETE", remove_answering(listed))
    taken_over_during_the_writing(monkeypatch, job, request=2)

    run(job)

    calls = list(job.operation.calls.order_by("sequence"))
    assert [call.status_code for call in calls] == [200, 200]  # both answers recorded
    assert statuses(job) == [ChunkStatus.IN_FLIGHT, ChunkStatus.IN_FLIGHT, ChunkStatus.PENDING]
    assert not job.operation.items.exclude(outcome=ItemOutcome.PENDING).exists()

    # The worker that took it over settles both chunks by look-up, then goes on.
    Job.objects.filter(pk=job.pk).update(lease_expires_at=engine.now() - timedelta(seconds=1))
    fake_woodpecker.on("GET", lookup_answering(listed))
    job = run(job, worker="another-worker")
    assert job.status == OperationStatus.SUCCEEDED
    assert job.operation.calls.get(sequence=1).error == ""  # its answer is not called lost
    detail = job.operation.items.get(identifier=emails[0]).detail
    assert detail.startswith(engine.ANSWER_NOT_RECORDED)
    assert len(deletes(fake_woodpecker)) == 3  # nothing sent twice


def test_a_lease_lost_during_a_retry_leaves_the_chunk_to_the_new_worker(
    operator, clock, fake_woodpecker, monkeypatch
):
    job = start_job(operator, addresses(3))
    fake_woodpecker.answer("DELETE", status=503, headers={"Retry-After": "5"})
    real = engine._after_failure

    def taken_over_meanwhile(*args, **kwargs):
        Job.objects.filter(pk=job.pk).update(owner="another-worker")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_after_failure", taken_over_meanwhile)
    run(job)
    assert statuses(job) == [ChunkStatus.IN_FLIGHT]  # not made pending without the lease
    assert job.operation.calls.get().status_code == 503  # the answer is recorded anyway


def test_a_failure_of_the_writing_keeps_the_answer_that_came(
    operator, clock, fake_woodpecker, monkeypatch
):
    job = start_job(operator, addresses(1000))
    fake_woodpecker.on("DELETE", remove_answering(set()))
    real = engine._write_items_ahead
    calls = []

    def disk_full(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # the writing while chunk 2 is out (after its claim's check)
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_write_items_ahead", disk_full)
    with pytest.raises(OSError, match="disk full"):
        run(job)
    statuses_now = [call.status_code for call in job.operation.calls.order_by("sequence")]
    assert statuses_now == [200, 200]


def test_a_cancel_that_meets_a_refusal_is_a_stop_not_a_cancel(
    operator, clock, fake_woodpecker, monkeypatch
):
    job = start_job(operator, addresses(1000))
    fake_woodpecker.answer("DELETE", status=401, json_body={"detail": "Invalid api key"})
    cancel_while_the_request_is_out(monkeypatch, job, operator)
    job = run(job)
    assert job.status == OperationStatus.STOPPED
    assert "Invalid api key" in job.stop_reason
    assert not job.cancelled


def test_a_look_up_refused_for_good_is_final_and_a_cancel_goes_through(
    operator, clock, fake_woodpecker, monkeypatch
):
    emails = addresses(600)
    listed = set(emails)
    job = killed_while_sending(
        operator, fake_woodpecker, monkeypatch, emails, listed, chunk=0, applied=True
    )
    job_cancel(Job.objects.get(pk=job.pk), actor=operator)
    fake_woodpecker.answer("GET", status=401, json_body={"detail": "Invalid api key"})

    job = run(job)

    assert job.status == OperationStatus.CANCELLED
    assert len(fake_woodpecker.sent("GET")) == 1  # not asked again and again
    assert job.unknown == 500
    assert job.not_sent == 100


def test_look_ups_refused_for_now_are_counted_across_runs(
    operator, clock, fake_woodpecker, monkeypatch, settings
):
    settings.JOB_MAX_ATTEMPTS = 3
    emails = addresses(3)
    job = killed_while_sending(
        operator, fake_woodpecker, monkeypatch, emails, set(emails), chunk=0, applied=True
    )
    fake_woodpecker.answer("GET", status=503, headers={"Retry-After": "100"})
    # Runs that each end during the rest (a worker's slices). A 10 ms slice can end before
    # its look-up on a slow machine: such a run counts nothing, so allow for a few.
    for _ in range(20):
        job = run(job, seconds=0.01)
        if job.is_finished:
            break
        clock.sleep(101)  # the next run, once the rest is over
    assert job.is_finished
    assert Chunk.objects.get(job=job).look_ups_refused == 3
    assert job.unknown == 3


def test_a_job_is_let_go_even_if_its_sender_fails_to_start(operator, monkeypatch):
    job = start_job(operator, addresses(1))

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(engine, "sender_for", broken)
    with pytest.raises(RuntimeError):
        run(job)
    assert Job.objects.get(pk=job.pk).owner == ""


def test_the_next_run_is_queued_before_the_job_is_let_go(operator, clock, fake_woodpecker):
    job = start_job(operator, addresses(3))
    fake_woodpecker.answer("DELETE", status=429, headers={"Retry-After": "120"})
    held_when_paused = []

    def on_pause(when):
        held_when_paused.append(Job.objects.get(pk=job.pk).owner)

    run_ = job_run(job.pk, worker_id=TEST_WORKER, seconds=0.05, on_pause=on_pause)
    assert run_.go_on_at is not None
    assert held_when_paused == [TEST_WORKER]
    assert Job.objects.get(pk=job.pk).owner == ""


def test_a_stop_is_recorded_once_whoever_records_it(operator):
    job = start_job(operator, addresses(5))
    assert engine.lease_take(job, TEST_WORKER)
    stop = engine._Stop("Cancelled by olivia.operator.", cancelled=True)
    engine._stop(job, stop, TEST_WORKER)
    engine._stop(job, stop, TEST_WORKER)  # a second runner meets the same cancel
    assert job.operation.events.filter(kind=EventKind.CANCELLED).count() == 1
    assert Job.objects.get(pk=job.pk).not_sent == 5


def test_a_web_cancel_that_loses_the_job_to_a_worker_is_no_error(operator, monkeypatch):
    job = start_job(operator, addresses(5))

    def taken(*args, **kwargs):
        raise LeaseLost

    monkeypatch.setattr(engine, "_stop", taken)
    assert job_cancel(job, actor=operator)  # asked for; the worker records it
    assert Job.objects.get(pk=job.pk).cancel_requested


def test_a_request_that_fails_before_the_writing_ran_leaves_the_answer_before_recorded(
    operator, clock, fake_woodpecker, monkeypatch
):
    from suppression_admin.woodpecker.sender import WoodpeckerSender

    job = start_job(operator, addresses(1000))
    fake_woodpecker.on("DELETE", remove_answering(set()))
    real = WoodpeckerSender.send
    sends = []

    def guard_fails_second_time(self, request, *, recorded, meanwhile):
        sends.append(1)
        if len(sends) == 2:
            raise OSError("the key's lock file could not be written")
        return real(self, request, recorded=recorded, meanwhile=meanwhile)

    monkeypatch.setattr(WoodpeckerSender, "send", guard_fails_second_time)
    with pytest.raises(OSError):
        run(job)
    assert statuses(job)[0] == ChunkStatus.DONE  # the first chunk's answer was recorded
    assert job.operation.items.filter(outcome=ItemOutcome.NOT_LISTED).count() == 500
