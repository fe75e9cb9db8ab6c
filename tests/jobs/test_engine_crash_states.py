"""Every chunk state in jobs.engine's table, as a worker killed at that point leaves it, and
what the next run does with it. A SIGKILL runs nothing of ours: the states are made by
interrupting the job's own steps, then erasing what only a living process would write.
"""

import json
from datetime import timedelta

import pytest
import responses

from suppression_admin.audit.models import OperationStatus
from suppression_admin.jobs import engine
from suppression_admin.jobs.models import Chunk, ChunkStatus, Job
from suppression_admin.jobs.senders import WoodpeckerSender
from suppression_admin.jobs.services import job_cancel
from suppression_admin.keys import lock
from tests.jobs.test_engine_woodpecker import URL, deletes, lookup_answering, remove_answering
from tests.woodpecker.factories import addresses, run, start_job

pytestmark = pytest.mark.usefixtures("live_providers")


def statuses(job: Job) -> list[str]:
    return list(Chunk.objects.filter(job=job).order_by("index").values_list("status", flat=True))


def killed_while_sending(operator, emails, listed: set[str], *, chunk: int, applied: bool):
    """A job whose worker died with chunk ``chunk``'s request out (applied by Woodpecker or
    not): that chunk is in flight, its call row has no answer, the ones before are done."""
    job = start_job(operator, emails)
    sent = []

    def dies_on_the_chunk(request):
        asked = json.loads(request.body)["emails"]
        sent.append(asked)
        if len(sent) == chunk + 1:
            if applied:
                listed.difference_update(asked)
            raise KeyboardInterrupt
        return remove_answering(listed)(request)

    responses.add_callback(responses.DELETE, URL, callback=dies_on_the_chunk)
    with pytest.raises(KeyboardInterrupt):
        run(job)
    # A SIGKILL would not have written "Interrupted" on the call, nor let the lease go.
    job.operation.calls.filter(status_code__isnull=True).update(error="", finished_at=None)
    Job.objects.filter(pk=job.pk).update(owner="dead-worker")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=engine.now() - timedelta(seconds=1))
    responses.reset()
    return job


@responses.activate
def test_pending_never_sent_is_sent_once(operator, clock):
    emails = addresses(1000)
    listed = set(emails)
    job = killed_while_sending(operator, emails, listed, chunk=0, applied=False)
    Chunk.objects.filter(job=job, index=0).update(status=ChunkStatus.DONE)  # as if answered
    assert statuses(job) == [ChunkStatus.DONE, ChunkStatus.PENDING]
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))

    job = run(job)

    assert deletes() == [emails[500:]]
    assert not any(call.request.method == "GET" for call in responses.calls)


@responses.activate
def test_pending_after_a_refusal_waits_out_the_rest_then_goes_again(operator, clock):
    emails = addresses(3)
    listed = set(emails)
    job = start_job(operator, emails)
    responses.add(responses.DELETE, URL, status=503, headers={"Retry-After": "40"}, json={})
    run(job, seconds=0.1)  # a worker stopped while the job rested
    assert statuses(job) == [ChunkStatus.PENDING]
    assert Chunk.objects.get(job=job).attempts == 1
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))

    started = clock.now
    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert sum(clock.slept) == pytest.approx(40, abs=1)  # not before the rest was over
    assert clock.now - started >= timedelta(seconds=39)
    purposes = list(job.operation.calls.values_list("purpose", flat=True))
    assert purposes == ["remove chunk 1", "remove chunk 1 (attempt 2)"]


@pytest.mark.parametrize("applied", [True, False])
@responses.activate
def test_in_flight_without_an_answer_is_looked_up_never_sent_blind(operator, clock, applied):
    emails = addresses(1500)
    listed = set(emails)
    job = killed_while_sending(operator, emails, listed, chunk=1, applied=applied)
    assert statuses(job) == [ChunkStatus.DONE, ChunkStatus.IN_FLIGHT, ChunkStatus.PENDING]
    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))

    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert job.done == 1500
    methods = [call.request.method for call in responses.calls]
    assert methods[0] == "GET"  # the lost chunk was looked up first
    resent = [body for body in deletes() if emails[500] in body]
    assert resent == ([] if applied else [emails[500:1000]])
    settled = job.operation.items.filter(detail__contains="checked by look-up").count()
    assert settled == (500 if applied else 0)
    lost = job.operation.calls.get(sequence=2)
    assert lost.error == engine.LOST_CALL
    # The audit holds every request Woodpecker received (the lost one included).
    assert job.operation.calls.count() == 2 + len(responses.calls)
    events = list(job.operation.events.values_list("kind", "detail"))
    assert (
        "resumed",
        "Taken over by worker test-host:1:worker: worker dead-worker stopped renewing it.",
    ) in events


@responses.activate
def test_in_flight_with_its_answer_recorded_but_not_its_outcomes_is_looked_up(
    operator, clock, monkeypatch
):
    emails = addresses(1000)
    listed = set(emails)
    job = start_job(operator, emails)
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    real_verdict = WoodpeckerSender.verdict
    read = []

    def dies_after_the_second_answer(self, items, answer):
        read.append(1)
        if len(read) == 2:
            raise KeyboardInterrupt
        return real_verdict(self, items, answer)

    monkeypatch.setattr(WoodpeckerSender, "verdict", dies_after_the_second_answer)
    with pytest.raises(KeyboardInterrupt):
        run(job)
    monkeypatch.setattr(WoodpeckerSender, "verdict", real_verdict)
    assert statuses(job) == [ChunkStatus.DONE, ChunkStatus.IN_FLIGHT]
    assert job.operation.calls.get(sequence=2).status_code == 200
    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))

    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert len(deletes()) == 2  # nothing sent again
    assert job.operation.items.filter(detail__contains="checked by look-up").count() == 500


@responses.activate
def test_killed_during_the_look_up_the_chunk_is_looked_up_again(operator, clock):
    emails = addresses(1000)
    listed = set(emails)
    job = killed_while_sending(operator, emails, listed, chunk=0, applied=True)

    def dies_during_the_look_up(request):
        raise KeyboardInterrupt

    responses.add_callback(responses.GET, URL, callback=dies_during_the_look_up)
    with pytest.raises(KeyboardInterrupt):
        run(job)  # the worker that took it over dies too
    assert statuses(job) == [ChunkStatus.IN_FLIGHT, ChunkStatus.PENDING]

    responses.reset()
    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert all(email not in body for body in deletes() for email in emails[:500])


@responses.activate
def test_done_and_not_sent_chunks_are_never_sent(operator, clock):
    emails = addresses(1500)
    listed = set(emails)
    job = killed_while_sending(operator, emails, listed, chunk=1, applied=True)
    job_cancel(Job.objects.get(pk=job.pk), actor=operator)
    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))

    job = run(job)

    assert deletes() == []  # chunk 1 done before; chunk 2 not sent after the cancel
    assert job.status == OperationStatus.CANCELLED
    assert (job.done, job.not_sent) == (1000, 500)
    assert statuses(job) == [ChunkStatus.DONE, ChunkStatus.DONE, ChunkStatus.NOT_SENT]


@responses.activate
def test_a_dead_holders_request_keeps_the_key_quiet_until_it_cannot_still_run(operator, clock):
    emails = addresses(3)
    listed = set(emails)
    job = killed_while_sending(operator, emails, listed, chunk=0, applied=True)
    # The dead worker's marker: its request was out until its read timeout.
    fingerprint = job.key_fingerprint
    with lock.key_turn(fingerprint, provider="Woodpecker", wait_seconds=1):
        key = lock._key(fingerprint)
        state = key.read()
        state.request_out_until = clock.now + timedelta(seconds=35)
        key.write(state)
    sent_at = []

    def look_up(request):
        sent_at.append(clock.now)
        return lookup_answering(listed)(request)

    responses.add_callback(responses.GET, URL, callback=look_up)
    quiet_from = clock.now

    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert sent_at[0] - quiet_from >= timedelta(seconds=35)
    assert deletes() == []
