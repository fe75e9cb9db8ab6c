"""Resuming a job from what a worker killed mid-turn (SIGKILL: nothing of it runs on) leaves.

The states are made with the job's own steps: chunks claimed, call rows written before
their requests, no answers recorded.
"""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from suppression_admin.audit.models import ItemOutcome
from suppression_admin.audit.services import AuditCallLog
from suppression_admin.woodpecker.chunks import ChunkRecord, chunk_claim_fresh, items_write_ahead
from suppression_admin.woodpecker.jobs import _prepare, removal_job_run
from suppression_admin.woodpecker.models import ChunkStatus, JobStatus, RemovalChunk, RemovalJob
from suppression_admin.woodpecker.services import removal_job_cancel
from tests.woodpecker.factories import addresses, start_job
from tests.woodpecker.test_jobs import URL, deletes, lookup_answering, remove_answering

pytestmark = pytest.mark.usefixtures("live_providers")


def killed_mid_turn(operator, emails, *, sent: list[int], claimed: list[int]):
    """A job whose worker was killed: ``sent`` chunks had their request go out (answers
    lost), ``claimed`` ones were claimed but never sent."""
    job = start_job(operator, emails, schedule=False)
    _prepare(job)
    items_write_ahead(job, emails, len(emails))
    log = AuditCallLog(job.operation)
    for index in [*sent, *claimed]:
        chunk = RemovalChunk.objects.get(job=job, index=index)
        assert chunk_claim_fresh(chunk)
        if index in sent:
            log.batch = index
            log.started(method="DELETE", path="/v2/blacklist/emails", item_count=500, body="")
    return job


@responses.activate
def test_a_chunk_claimed_but_never_sent_is_sent_without_a_look_up(operator):
    emails = addresses(1500)
    listed = set(emails[500:])  # Woodpecker applied the first chunk before the kill
    job = killed_mid_turn(operator, emails, sent=[0], claimed=[1])
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))

    job = removal_job_run(job.pk)

    assert job.status == JobStatus.SUCCEEDED
    assert job.removed == 1500
    assert [body[0] for body in deletes()] == [emails[500], emails[1000]]  # each once
    look_ups = job.operation.calls.filter(method="GET")
    assert set(look_ups.values_list("batch", flat=True)) == {0}
    second = job.operation.items.get(identifier=emails[500])
    assert second.detail == "Removed from the blacklist."
    first = job.operation.items.get(identifier=emails[0])
    assert "checked by look-up" in first.detail
    assert job.operation.calls.count() == 1 + len(responses.calls)  # the killed worker sent one


@responses.activate
def test_a_worker_killed_during_the_look_up_leaves_the_chunk_to_be_looked_up_again(operator):
    emails = addresses(1000)
    listed = set(emails[500:])  # the lost request had been applied
    job = killed_mid_turn(operator, emails, sent=[0], claimed=[])

    def dies_during_the_look_up(request):
        raise KeyboardInterrupt

    responses.add_callback(responses.GET, URL, callback=dies_during_the_look_up)
    with pytest.raises(KeyboardInterrupt):
        removal_job_run(job.pk)  # the worker that resumed it dies too

    responses.remove(responses.GET, URL)
    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    job = removal_job_run(job.pk)

    assert job.status == JobStatus.SUCCEEDED
    assert all(email not in body for body in deletes() for email in emails[:500])  # never blind
    settled = job.operation.items.filter(detail__contains="checked by look-up")
    assert settled.count() == 500


@responses.activate
def test_a_cancel_settles_a_dead_workers_chunk_by_look_up_before_stopping(operator):
    emails = addresses(1500)
    listed = set(emails[250:])  # the lost request had removed half of its chunk
    job = killed_mid_turn(operator, emails, sent=[0], claimed=[1])
    removal_job_cancel(RemovalJob.objects.get(pk=job.pk))
    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))

    job = removal_job_run(job.pk)

    assert deletes() == []
    assert job.status == JobStatus.CANCELLED
    assert (job.removed, job.not_sent, job.processed) == (250, 1250, 1500)
    outcome = dict(job.operation.items.values_list("identifier", "outcome"))
    assert outcome[emails[0]] == ItemOutcome.REMOVED
    assert outcome[emails[300]] == ItemOutcome.NOT_SENT
    still_listed = job.operation.items.get(identifier=emails[300])
    assert "still on the blacklist" in still_listed.detail
    assert list(job.chunks.values_list("status", flat=True)) == [
        ChunkStatus.DONE,
        ChunkStatus.NOT_SENT,
        ChunkStatus.NOT_SENT,
    ]


@responses.activate
def test_an_answer_recorded_after_a_stop_closed_its_chunk_is_not_counted_again(operator):
    job = killed_mid_turn(operator, addresses(500), sent=[0], claimed=[])
    chunk = RemovalChunk.objects.get(job=job)
    RemovalChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.NOT_SENT)
    before = RemovalJob.objects.get(pk=job.pk).processed
    ChunkRecord(job, chunk).done()
    assert RemovalJob.objects.get(pk=job.pk).processed == before
    assert RemovalChunk.objects.get(pk=chunk.pk).status == ChunkStatus.NOT_SENT


@responses.activate
def test_with_the_key_changed_a_dead_workers_chunk_is_unknown_never_not_sent(operator, settings):
    emails = addresses(1000)
    job = killed_mid_turn(operator, emails, sent=[0], claimed=[1])
    settings.WOODPECKER_API_KEY = "another-account-key"

    job = removal_job_run(job.pk)

    assert len(responses.calls) == 0  # another account's key is never used for this job
    assert job.status == JobStatus.FAILED
    assert (job.unknown, job.not_sent) == (500, 500)
    first = job.operation.items.get(identifier=emails[0])
    assert first.outcome == ItemOutcome.UNKNOWN
    assert "could not be looked up" in first.detail
    lost = job.operation.calls.get()
    assert lost.error == "No answer recorded: the worker stopped before recording it."


@responses.activate
def test_while_woodpecker_asked_us_to_wait_a_stop_sends_no_look_ups(operator):
    emails = addresses(1000)
    job = killed_mid_turn(operator, emails, sent=[0], claimed=[])
    resume_at = timezone.now() + timedelta(minutes=10)
    RemovalJob.objects.filter(pk=job.pk).update(resume_at=resume_at)
    removal_job_cancel(RemovalJob.objects.get(pk=job.pk))

    job = removal_job_run(job.pk)

    assert len(responses.calls) == 0
    assert job.status == JobStatus.CANCELLED
    assert (job.unknown, job.not_sent) == (500, 500)
    first = job.operation.items.get(identifier=emails[0])
    assert "could not be looked up" in first.detail
