"""Every chunk state in jobs.engine's table, as a worker killed at that point leaves it, and
what the next run does with it. A SIGKILL runs nothing of ours: the states are made by
interrupting the job's own steps, then erasing what only a living process would write.
"""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from suppression_admin.audit.models import OperationStatus
from suppression_admin.connections import woodpecker_client
from suppression_admin.jobs import engine
from suppression_admin.jobs.models import Chunk, ChunkStatus, Job
from suppression_admin.jobs.services import job_cancel
from suppression_admin.keys import lock
from suppression_admin.providers.split import SplitSender
from suppression_admin.woodpecker.sender import WoodpeckerSender
from tests.conftest import audit_unguarded
from tests.jobs.test_engine_woodpecker import deletes, lookup_answering, remove_answering
from tests.woodpecker.factories import addresses, run, start_job


def statuses(job: Job) -> list[str]:
    return list(Chunk.objects.filter(job=job).order_by("index").values_list("status", flat=True))


def as_if_killed(job: Job) -> None:
    """Erase what only a living process writes: the crash note on its call, its lease."""
    with audit_unguarded():  # a state no application path makes
        job.operation.calls.filter(status_code__isnull=True).update(error="", finished_at=None)
    Job.objects.filter(pk=job.pk).update(
        owner="dead-worker", lease_expires_at=engine.now() - timedelta(seconds=1)
    )


def dies_waiting_for_answer(monkeypatch, fake, *, request: int) -> None:
    """The worker dies while its ``request``-th request is out (after the server took it)."""
    real = SplitSender.answer
    calls = []

    def answer(self):
        calls.append(1)
        if len(calls) == request:
            fake.wait_handled(request)
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(SplitSender, "answer", answer)


def killed_while_sending(operator, fake, monkeypatch, emails, listed, *, chunk, applied):
    """A job whose worker died with chunk ``chunk``'s request out (applied by Woodpecker or
    not): that chunk is in flight, its call row has no answer, the ones before are done."""
    job = start_job(operator, emails)
    seen = []

    def woodpecker(request):
        asked = json.loads(request.body)["emails"]
        seen.append(asked)
        if len(seen) == chunk + 1 and not applied:
            return 200, {}, json.dumps({"emails": []})
        return remove_answering(listed)(request)

    fake.on("DELETE", woodpecker)
    with monkeypatch.context() as patched:
        dies_waiting_for_answer(patched, fake, request=chunk + 1)
        with pytest.raises(KeyboardInterrupt):
            run(job)
    as_if_killed(job)
    fake.reset()
    return job


def test_pending_never_sent_is_sent_once(operator, clock, fake_woodpecker, monkeypatch):
    emails = addresses(1000)
    listed = set(emails)
    job = killed_while_sending(
        operator, fake_woodpecker, monkeypatch, emails, listed, chunk=0, applied=False
    )
    Chunk.objects.filter(job=job, index=0).update(status=ChunkStatus.DONE)  # as if answered
    assert statuses(job) == [ChunkStatus.DONE, ChunkStatus.PENDING]
    fake_woodpecker.on("DELETE", remove_answering(listed))

    job = run(job)

    assert deletes(fake_woodpecker)[1:] == [emails[500:]]
    assert not fake_woodpecker.sent("GET")


def test_pending_after_a_refusal_waits_out_the_rest_then_goes_again(
    operator, clock, fake_woodpecker
):
    emails = addresses(3)
    listed = set(emails)
    job = start_job(operator, emails)
    fake_woodpecker.answer("DELETE", status=503, headers={"Retry-After": "40"})
    run(job, seconds=0.1)  # a worker stopped while the job rested
    assert statuses(job) == [ChunkStatus.PENDING]
    assert Chunk.objects.get(job=job).attempts == 1
    fake_woodpecker.reset()
    fake_woodpecker.on("DELETE", remove_answering(listed))

    started = clock.now
    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert sum(clock.slept) == pytest.approx(40, abs=1)  # not before the rest was over
    assert clock.now - started >= timedelta(seconds=39)
    purposes = list(job.operation.calls.values_list("purpose", flat=True))
    assert purposes == ["remove batch 1", "remove batch 1 (attempt 2)"]


@pytest.mark.parametrize("applied", [True, False])
def test_in_flight_without_an_answer_is_looked_up_never_sent_blind(
    operator, clock, fake_woodpecker, monkeypatch, applied
):
    emails = addresses(1500)
    listed = set(emails)
    job = killed_while_sending(
        operator, fake_woodpecker, monkeypatch, emails, listed, chunk=1, applied=applied
    )
    assert statuses(job) == [ChunkStatus.DONE, ChunkStatus.IN_FLIGHT, ChunkStatus.PENDING]
    before = len(fake_woodpecker.requests)
    fake_woodpecker.on("GET", lookup_answering(listed))
    fake_woodpecker.on("DELETE", remove_answering(listed))

    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert job.done + job.not_listed + job.gone == 1500
    assert job.gone == (500 if applied else 0)
    after = fake_woodpecker.requests[before:]
    assert after[0].method == "GET"  # the lost chunk was looked up first
    resent = [body for body in deletes(fake_woodpecker)[2:] if emails[500] in body]
    assert resent == ([] if applied else [emails[500:1000]])
    settled = job.operation.items.filter(detail__contains="checked by look-up").count()
    assert settled == (500 if applied else 0)
    lost = job.operation.calls.get(sequence=2)
    assert lost.error == engine.LOST_CALL
    # The audit holds every request Woodpecker received (the lost one included).
    assert job.operation.calls.count() == len(fake_woodpecker.requests)
    events = list(job.operation.events.values_list("kind", flat=True))
    assert "resumed" in events


def test_in_flight_with_its_answer_in_hand_is_looked_up(
    operator, clock, fake_woodpecker, monkeypatch
):
    emails = addresses(1000)
    listed = set(emails)
    job = start_job(operator, emails)
    fake_woodpecker.on("DELETE", remove_answering(listed))
    real_verdict = WoodpeckerSender.verdict
    read = []

    def dies_after_the_second_answer(self, items, answer):
        read.append(1)
        if len(read) == 2:
            raise KeyboardInterrupt
        return real_verdict(self, items, answer)

    with monkeypatch.context() as patched:
        patched.setattr(WoodpeckerSender, "verdict", dies_after_the_second_answer)
        with pytest.raises(KeyboardInterrupt):
            run(job)
    as_if_killed(job)
    assert statuses(job) == [ChunkStatus.DONE, ChunkStatus.IN_FLIGHT]
    fake_woodpecker.on("GET", lookup_answering(listed))

    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert len(deletes(fake_woodpecker)) == 2  # nothing sent again
    assert job.operation.items.filter(detail__contains="checked by look-up").count() == 500


def test_killed_while_writing_during_a_request_leaves_two_in_flight_both_looked_up(
    operator, clock, fake_woodpecker, monkeypatch
):
    emails = addresses(1500)
    listed = set(emails)
    job = start_job(operator, emails)
    fake_woodpecker.on("DELETE", remove_answering(listed))
    real = engine._while_out
    calls = []

    def dies_in_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # chunk 2's request is out; chunk 1's outcomes not yet written
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(engine, "_while_out", dies_in_the_second)
        with pytest.raises(KeyboardInterrupt):
            run(job)
    as_if_killed(job)
    assert statuses(job) == [ChunkStatus.IN_FLIGHT, ChunkStatus.IN_FLIGHT, ChunkStatus.PENDING]
    fake_woodpecker.on("GET", lookup_answering(listed))

    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    gets = fake_woodpecker.sent("GET")
    looked_up = [
        email
        for request in gets
        for email in parse_qs(urlsplit(request.url).query)["email_filter"][0].split(",")
    ]
    assert emails[0] in looked_up
    assert emails[500] in looked_up
    assert sum(body.count(emails[0]) for body in deletes(fake_woodpecker)) == 1


def test_killed_during_the_look_up_the_chunk_is_looked_up_again(
    operator, clock, fake_woodpecker, monkeypatch
):
    emails = addresses(1000)
    listed = set(emails)
    job = killed_while_sending(
        operator, fake_woodpecker, monkeypatch, emails, listed, chunk=0, applied=True
    )

    def dies_during_the_look_up(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(WoodpeckerSender, "still_listed", dies_during_the_look_up)
        with pytest.raises(KeyboardInterrupt):
            run(job)  # the worker that took it over dies too
    assert statuses(job) == [ChunkStatus.IN_FLIGHT, ChunkStatus.PENDING]

    fake_woodpecker.on("GET", lookup_answering(listed))
    fake_woodpecker.on("DELETE", remove_answering(listed))
    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert all(email not in body for body in deletes(fake_woodpecker)[1:] for email in emails[:500])


def test_done_and_not_sent_chunks_are_never_sent(operator, clock, fake_woodpecker, monkeypatch):
    emails = addresses(1500)
    listed = set(emails)
    job = killed_while_sending(
        operator, fake_woodpecker, monkeypatch, emails, listed, chunk=1, applied=True
    )
    job_cancel(Job.objects.get(pk=job.pk), actor=operator)
    fake_woodpecker.on("GET", lookup_answering(listed))

    job = run(job)

    assert len(deletes(fake_woodpecker)) == 2  # none after the cancel
    assert job.status == OperationStatus.CANCELLED
    assert (job.done, job.gone, job.not_sent) == (500, 500, 500)
    assert statuses(job) == [ChunkStatus.DONE, ChunkStatus.DONE, ChunkStatus.NOT_SENT]


def test_a_dead_holders_request_keeps_the_key_quiet_until_it_cannot_still_run(
    operator, clock, fake_woodpecker, monkeypatch, settings
):
    settings.WOODPECKER_READ_TIMEOUT_SECONDS = 35
    emails = addresses(3)
    listed = set(emails)
    killed_at = clock.now
    job = killed_while_sending(
        operator, fake_woodpecker, monkeypatch, emails, listed, chunk=0, applied=True
    )
    # Its request's mark outlives it: nothing goes out with the key before 35 s.
    with pytest.raises(lock.KeyResting, match="may still be running"):
        woodpecker_client().lookup(["someone@example.com"])
    sent_at = []

    def look_up(request):
        sent_at.append(clock.now)
        return lookup_answering(listed)(request)

    fake_woodpecker.on("GET", look_up)

    job = run(job)

    assert job.status == OperationStatus.SUCCEEDED
    assert sent_at[0] - killed_at >= timedelta(seconds=35)
    assert len(deletes(fake_woodpecker)) == 1
