"""The removal job against faked HTTP: chunking, retry, settling, stop, resume, cancel."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.utils import timezone

from suppression_admin.audit.models import ItemOutcome, OperationStatus, ProviderCall
from suppression_admin.woodpecker.jobs import removal_job_run, removal_jobs_recover
from suppression_admin.woodpecker.models import ChunkStatus, JobStatus, RemovalJob
from suppression_admin.woodpecker.services import (
    REASON_REQUIRED,
    RemovalRequestInvalid,
    removal_job_cancel,
)
from tests.conftest import TEST_WOODPECKER_URL
from tests.woodpecker.factories import addresses, make_draft, start_job

URL = f"{TEST_WOODPECKER_URL}/v2/blacklist/emails"
pytestmark = pytest.mark.usefixtures("live_providers")


@pytest.fixture
def waits(monkeypatch):
    """The rests the job asks for, each in one piece, instead of sleeping through them."""
    recorded: list[float] = []
    monkeypatch.setattr("suppression_admin.woodpecker.jobs.sleep", recorded.append)
    monkeypatch.setattr("suppression_admin.woodpecker.jobs.REST_SLICE_SECONDS", 3600)
    return recorded


def remove_answering(listed: set[str]):
    """A DELETE callback that removes whatever of ``listed`` is asked for, like Woodpecker."""

    def callback(request):
        asked = json.loads(request.body)["emails"]
        removed = [email for email in asked if email in listed]
        listed.difference_update(removed)
        return 200, {}, json.dumps({"emails": removed})

    return callback


def lookup_answering(listed: set[str]):
    def callback(request):
        wanted = parse_qs(urlsplit(request.url).query)["email_filter"][0].split(",")
        found = [email for email in wanted if email in listed]
        return 200, {}, json.dumps({"emails": found, "total": len(found)})

    return callback


def deletes() -> list[list[str]]:
    return [
        json.loads(call.request.body)["emails"]
        for call in responses.calls
        if call.request.method == "DELETE"
    ]


@responses.activate
def test_job_sends_chunks_of_at_most_500_and_records_each_outcome(operator, waits):
    emails = addresses(1200)
    listed = set(emails[::2])
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    job = start_job(operator, emails, ticket="SUP-1")
    job = removal_job_run(job.pk)

    assert [len(body) for body in deletes()] == [500, 500, 200]
    assert [e for body in deletes() for e in body] == emails
    assert job.status == JobStatus.SUCCEEDED
    assert (job.removed, job.not_listed, job.failed, job.processed) == (600, 600, 0, 1200)
    operation = job.operation
    operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.source == "file"
    assert operation.ticket == "SUP-1"
    assert operation.source_detail["file_sha256"] == "ab" * 32
    outcomes = dict(operation.items.values_list("identifier", "outcome"))
    assert outcomes[emails[0]] == ItemOutcome.REMOVED
    assert outcomes[emails[1]] == ItemOutcome.NOT_LISTED
    # Every request that reached Woodpecker is one audit call.
    assert operation.calls.count() == len(responses.calls) == 3
    assert list(operation.calls.values_list("item_count", flat=True)) == [500, 500, 200]
    assert waits == []


@responses.activate
def test_rate_limited_chunk_waits_as_told_and_is_retried_alone(operator, waits):
    emails = addresses(600)
    listed = set(emails)
    responses.add(responses.DELETE, URL, status=429, headers={"Retry-After": "7"}, json={})
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    job = removal_job_run(start_job(operator, emails).pk)

    assert waits == pytest.approx([7.0], abs=0.5)
    assert [len(body) for body in deletes()] == [500, 500, 100]
    assert deletes()[0] == deletes()[1]  # the refused chunk, again; nothing else twice
    assert job.status == JobStatus.SUCCEEDED
    assert job.removed == 600
    purposes = list(job.operation.calls.values_list("purpose", flat=True))
    assert purposes == ["remove chunk 1", "remove chunk 1 (attempt 2)", "remove chunk 2"]


@responses.activate
def test_a_wait_woodpecker_asked_for_holds_every_worker_of_the_job(operator, monkeypatch):
    emails = addresses(1000)
    listed = set(emails)
    responses.add(responses.DELETE, URL, status=429, headers={"Retry-After": "30"}, json={})
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    job = start_job(operator, emails)
    slept: list[tuple[int, int]] = []  # (seconds, requests sent so far)

    def sleep(seconds):
        slept.append((round(seconds), len(deletes())))
        if len(slept) == 1:
            removal_job_run(job.pk)  # meanwhile, a second worker picks the job up

    monkeypatch.setattr("suppression_admin.woodpecker.jobs.sleep", sleep)
    monkeypatch.setattr("suppression_admin.woodpecker.jobs.REST_SLICE_SECONDS", 3600)
    job = removal_job_run(job.pk)

    # The second worker waited out the first one's 429 before sending anything.
    assert slept == [(30, 1), (30, 1)]
    assert job.status == JobStatus.SUCCEEDED
    assert len(deletes()) == 3


@responses.activate
def test_a_cancel_during_a_long_wait_is_not_kept_waiting(operator, monkeypatch):
    responses.add(responses.DELETE, URL, status=429, headers={"Retry-After": "30"}, json={})
    job = start_job(operator, addresses(1000))
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 3:
            removal_job_cancel(RemovalJob.objects.get(pk=job.pk))

    monkeypatch.setattr("suppression_admin.woodpecker.jobs.sleep", sleep)
    job = removal_job_run(job.pk)

    assert len(slept) == 3  # of 30 one-second slices
    assert sum(slept) == pytest.approx(3, abs=0.1)
    assert job.status == JobStatus.CANCELLED
    assert len(deletes()) == 1
    assert job.not_sent == 1000


@responses.activate
def test_unavailable_without_retry_after_backs_off_exponentially(operator, waits, settings):
    settings.WOODPECKER_MAX_CHUNK_ATTEMPTS = 3
    for _ in range(3):
        responses.add(responses.DELETE, URL, status=503, json={"detail": "maintenance"})
    job = removal_job_run(start_job(operator, addresses(3)).pk)
    assert waits == pytest.approx([2.0, 4.0], abs=0.5)
    assert job.status == JobStatus.FAILED
    assert "Gave up after 3 attempts" in job.stop_reason
    assert set(job.operation.items.values_list("outcome", flat=True)) == {ItemOutcome.FAILED}


@responses.activate
def test_retry_after_beyond_the_bound_stops_the_job_clearly(operator, waits):
    responses.add(responses.DELETE, URL, status=429, headers={"Retry-After": "86400"}, json={})
    job = removal_job_run(start_job(operator, addresses(700)).pk)
    assert waits == []
    assert job.status == JobStatus.FAILED
    assert "86400 s" in job.stop_reason
    assert (job.failed, job.not_sent) == (500, 200)
    # The wait is kept even so: the stop itself sent nothing more (no look-ups).
    assert job.resume_at > timezone.now() + timedelta(hours=23)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "lost",
    [requests.exceptions.ReadTimeout("t"), requests.exceptions.ConnectionError("aborted")],
)
@responses.activate
def test_lost_answer_is_settled_by_lookup_and_only_unapplied_ones_are_resent(operator, waits, lost):
    emails = addresses(10)
    listed = set(emails)
    responses.add(responses.DELETE, URL, body=lost)
    # The lost request did remove the first four; the look-up shows the other six remain.
    listed.difference_update(emails[:4])
    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    job = removal_job_run(start_job(operator, emails).pk)

    assert deletes() == [emails, emails[4:]]
    assert job.status == JobStatus.SUCCEEDED
    items = {item.identifier: item for item in job.operation.items.all()}
    assert "checked by look-up" in items[emails[0]].detail
    assert items[emails[5]].detail == "Removed from the blacklist."
    calls = list(job.operation.calls.all())
    assert [c.method for c in calls] == ["DELETE", "GET", "DELETE"]
    assert calls[0].status_code is None
    assert "unknown" in calls[0].error
    assert calls[1].purpose == "look-up to settle an unknown outcome"
    assert len(calls) == len(responses.calls)


@responses.activate
def test_lost_answer_whose_lookup_fails_is_unknown_never_resent(operator, waits):
    responses.add(responses.DELETE, URL, body=requests.exceptions.ReadTimeout("t"))
    responses.add(responses.GET, URL, status=500, json={})
    job = removal_job_run(start_job(operator, addresses(3)).pk)
    assert len(deletes()) == 1
    assert job.unknown == 3
    assert job.status == JobStatus.PARTIAL
    assert job.operation.status == OperationStatus.UNKNOWN


@pytest.mark.parametrize(
    ("status", "detail"), [(401, "Invalid api key"), (400, "Value of emails is incorrect.")]
)
@responses.activate
def test_refused_request_stops_the_job_and_leaves_the_rest_unsent(operator, waits, status, detail):
    body = {"title": "x", "status": status, "detail": detail, "timestamp": "2025-03-05 17:57:00"}
    responses.add(responses.DELETE, URL, status=status, json=body)
    job = removal_job_run(start_job(operator, addresses(1100)).pk)
    assert len(responses.calls) == 1
    assert job.status == JobStatus.FAILED
    assert detail in job.stop_reason
    assert (job.failed, job.not_sent) == (500, 600)
    unsent = job.operation.items.filter(outcome=ItemOutcome.NOT_SENT).first()
    assert detail in unsent.detail
    assert job.operation.summary.endswith(job.stop_reason)


@responses.activate
def test_a_crashed_run_resumes_without_resending_confirmed_chunks(operator, waits):
    emails = addresses(1500)
    listed = set(emails)
    sent_to_woodpecker: list[list[str]] = []

    def crash_on_second_chunk(request):
        asked = json.loads(request.body)["emails"]
        sent_to_woodpecker.append(asked)
        if len(sent_to_woodpecker) == 2:
            listed.difference_update(asked[:100])  # applied in part, then the worker died
            raise KeyboardInterrupt
        return remove_answering(listed)(request)

    responses.add_callback(responses.DELETE, URL, callback=crash_on_second_chunk)
    job = start_job(operator, emails)
    with pytest.raises(KeyboardInterrupt):
        removal_job_run(job.pk)
    job.refresh_from_db()
    assert not job.is_finished
    # The first chunk's answer was recorded even so; nothing claimed after it was kept.
    assert list(job.chunks.values_list("status", flat=True)) == [
        ChunkStatus.DONE,
        ChunkStatus.IN_FLIGHT,
        ChunkStatus.PENDING,
    ]

    responses.add_callback(responses.GET, URL, callback=lookup_answering(listed))
    job = removal_job_run(job.pk)
    assert job.status == JobStatus.SUCCEEDED
    assert job.removed == 1500
    sent = [email for body in sent_to_woodpecker for email in body]
    assert sent.count(emails[0]) == 1  # the confirmed first chunk was never sent again
    assert sent.count(emails[500]) == 1  # applied before the crash: settled by look-up
    assert sent.count(emails[700]) == 2  # proven not applied by the look-up: sent again
    assert job.operation.calls.count() == len(responses.calls)
    lost = job.operation.calls.get(sequence=2)
    assert "looked up afterwards" in lost.error
    look_ups = job.operation.calls.filter(method="GET")
    assert set(look_ups.values_list("batch", flat=True)) == {1}


@responses.activate
def test_cancel_stops_after_the_chunk_in_flight(operator, waits):
    emails = addresses(1500)
    listed = set(emails)
    job = start_job(operator, emails)

    def cancel_during_first_chunk(request):
        removal_job_cancel(RemovalJob.objects.get(pk=job.pk))
        return remove_answering(listed)(request)

    responses.add_callback(responses.DELETE, URL, callback=cancel_during_first_chunk)
    job = removal_job_run(job.pk)
    assert len(deletes()) == 1
    assert job.status == JobStatus.CANCELLED
    assert (job.removed, job.not_sent) == (500, 1000)
    assert "Cancelled" in job.operation.summary
    assert job.operation.status == OperationStatus.PARTIAL


def test_missing_configuration_stops_with_every_address_accounted_for(operator, settings):
    job = start_job(operator, addresses(3))
    settings.WOODPECKER_API_KEY = ""
    job = removal_job_run(job.pk)
    assert job.status == JobStatus.FAILED
    assert "WOODPECKER_API_KEY" in job.stop_reason
    assert job.not_sent == 3
    assert ProviderCall.objects.count() == 0


def test_a_changed_key_is_never_used_for_an_old_job(operator, settings):
    job = start_job(operator, addresses(3))
    settings.WOODPECKER_API_KEY = "another-accounts-key"
    job = removal_job_run(job.pk)
    assert job.status == JobStatus.FAILED
    assert "key changed" in job.stop_reason


def test_confirming_the_same_draft_twice_starts_one_job(
    operator, django_capture_on_commit_callbacks
):
    draft = make_draft(operator, addresses(3))
    from suppression_admin.woodpecker.services import removal_job_start

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = removal_job_start(actor=operator, draft=draft, reason="r")
        second = removal_job_start(actor=operator, draft=draft, reason="r")
    assert first.pk == second.pk
    assert len(callbacks) == 1
    assert RemovalJob.objects.count() == 1


def test_blank_reason_is_refused_before_anything_is_recorded(operator):
    with pytest.raises(RemovalRequestInvalid, match=REASON_REQUIRED):
        start_job(operator, addresses(1), reason="  ")
    assert RemovalJob.objects.count() == 0


def test_recover_schedules_every_unfinished_job(operator):
    from django_tasks_db.models import DBTaskResult

    unfinished = start_job(operator, addresses(1))
    done = start_job(operator, addresses(1))
    RemovalJob.objects.filter(pk=done.pk).update(status=JobStatus.SUCCEEDED)
    before = DBTaskResult.objects.count()
    assert removal_jobs_recover() == [unfinished.pk]
    assert DBTaskResult.objects.count() == before + 1


def test_the_api_key_is_not_stored_with_the_job(operator, settings):
    job = start_job(operator, addresses(1))
    assert settings.WOODPECKER_API_KEY not in json.dumps(
        list(RemovalJob.objects.filter(pk=job.pk).values()), default=str
    )
