"""The job engine on a removal, against faked HTTP: chunks, rests, settling, stops, cancel."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.utils import timezone

from suppression_admin.audit.models import (
    EventKind,
    ItemOutcome,
    OperationStatus,
    ProviderCall,
)
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.services import job_cancel
from suppression_admin.woodpecker.services import (
    REASON_REQUIRED,
    RemovalRequestInvalid,
    removal_job_start,
)
from tests.conftest import TEST_WOODPECKER_URL, make_user
from tests.woodpecker.factories import addresses, make_draft, run, start_job

URL = f"{TEST_WOODPECKER_URL}/v2/blacklist/emails"
pytestmark = pytest.mark.usefixtures("live_providers")


@pytest.fixture
def waits(clock, monkeypatch):
    """The rests the job takes, each in one piece, the clock moved instead of waited for."""
    monkeypatch.setattr("suppression_admin.jobs.engine.REST_SLICE_SECONDS", 3600)
    return clock.slept


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
    job = run(start_job(operator, emails, ticket="SUP-1"))

    assert [len(body) for body in deletes()] == [500, 500, 200]
    assert [e for body in deletes() for e in body] == emails
    assert job.status == OperationStatus.SUCCEEDED
    assert (job.done, job.not_listed, job.failed, job.processed) == (600, 600, 0, 1200)
    operation = job.operation
    assert operation.source == "file"
    assert operation.ticket == "SUP-1"
    assert operation.source_detail["file_sha256"] == "ab" * 32
    outcomes = dict(operation.items.values_list("identifier", "outcome"))
    assert outcomes[emails[0]] == ItemOutcome.REMOVED
    assert outcomes[emails[1]] == ItemOutcome.NOT_LISTED
    # Every request that reached Woodpecker is one audit call, and decided its items.
    assert operation.calls.count() == len(responses.calls) == 3
    assert list(operation.calls.values_list("item_count", flat=True)) == [500, 500, 200]
    second = operation.calls.get(sequence=2)
    assert operation.items.get(identifier=emails[500]).call == second
    assert waits == []
    kinds = list(operation.events.values_list("kind", flat=True))
    assert kinds == [EventKind.REQUESTED, EventKind.STARTED, EventKind.FINISHED]


@responses.activate
def test_a_job_and_its_operation_share_one_number_and_one_status(operator, waits):
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(set()))
    job = start_job(operator, addresses(2))
    assert job.pk == job.operation.pk
    assert job.get_status_display() == "Queued"
    job = run(job)
    assert job.operation.get_status_display() == job.get_status_display() == "Succeeded"


@responses.activate
def test_recorded_times_are_observed_not_computed(operator, waits, monkeypatch):
    import time as real_time

    def slow(request):
        real_time.sleep(0.12)
        return remove_answering(set())(request)

    responses.add_callback(responses.DELETE, URL, callback=slow)
    before = timezone.now()
    job = run(start_job(operator, addresses(3)))
    call = job.operation.calls.get()
    assert call.started_at >= before
    assert call.duration_ms >= 120
    assert call.finished_at - call.started_at == timedelta(milliseconds=call.duration_ms)


@responses.activate
def test_rate_limited_chunk_rests_as_told_and_is_retried_alone(operator, waits):
    emails = addresses(600)
    listed = set(emails)
    responses.add(responses.DELETE, URL, status=429, headers={"Retry-After": "7"}, json={})
    responses.add_callback(responses.DELETE, URL, callback=remove_answering(listed))
    job = run(start_job(operator, emails))

    assert sum(waits) == pytest.approx(7.0, abs=0.5)
    assert [len(body) for body in deletes()] == [500, 500, 100]
    assert deletes()[0] == deletes()[1]  # the refused chunk, again; nothing else twice
    assert job.status == OperationStatus.SUCCEEDED
    assert job.done == 600
    purposes = list(job.operation.calls.values_list("purpose", flat=True))
    assert purposes == ["remove chunk 1", "remove chunk 1 (attempt 2)", "remove chunk 2"]


@responses.activate
def test_a_retry_after_rests_the_key_for_every_job_and_look_up(operator, waits):
    from suppression_admin.connections import woodpecker_client
    from suppression_admin.keys.lock import KeyResting

    responses.add(responses.DELETE, URL, status=429, headers={"Retry-After": "120"}, json={})
    job = start_job(operator, addresses(3))
    run(job, seconds=0.5)  # the rest outlasts the run: it ends, resting

    job.refresh_from_db()
    assert job.resume_at > timezone.now() + timedelta(seconds=100)
    with pytest.raises(KeyResting, match="asked us to wait") as quiet:
        woodpecker_client().lookup(["a@example.com"])
    assert quiet.value.until == pytest.approx(job.resume_at, abs=timedelta(seconds=2))
    assert len(responses.calls) == 1  # the look-up sent nothing


@responses.activate
def test_a_cancel_during_a_long_rest_is_not_kept_waiting(operator, monkeypatch):
    responses.add(responses.DELETE, URL, status=429, headers={"Retry-After": "30"}, json={})
    job = start_job(operator, addresses(1000))
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 3:
            job_cancel(Job.objects.get(pk=job.pk), actor=operator)

    monkeypatch.setattr("suppression_admin.jobs.engine.sleep", sleep)
    job = run(job)

    assert len(slept) == 3  # of 30 one-second slices
    assert sum(slept) == pytest.approx(3, abs=0.2)
    assert job.status == OperationStatus.CANCELLED
    assert len(deletes()) == 1
    assert job.not_sent == 1000


@responses.activate
def test_unavailable_without_retry_after_backs_off_exponentially(operator, waits, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    for _ in range(3):
        responses.add(responses.DELETE, URL, status=503, json={"detail": "maintenance"})
    job = run(start_job(operator, addresses(3)))
    assert waits == pytest.approx([2.0, 4.0], abs=0.5)
    assert job.status == OperationStatus.STOPPED
    assert "Gave up after 3 attempts" in job.stop_reason
    assert set(job.operation.items.values_list("outcome", flat=True)) == {ItemOutcome.FAILED}


@responses.activate
def test_retry_after_beyond_the_bound_stops_the_job_clearly(operator, waits):
    responses.add(responses.DELETE, URL, status=429, headers={"Retry-After": "86400"}, json={})
    job = run(start_job(operator, addresses(700)))
    assert waits == []
    assert job.status == OperationStatus.STOPPED
    assert "86400 s" in job.stop_reason
    assert (job.failed, job.not_sent) == (500, 200)
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
    job = run(start_job(operator, emails))

    assert deletes() == [emails, emails[4:]]
    assert job.status == OperationStatus.SUCCEEDED
    items = {item.identifier: item for item in job.operation.items.all()}
    assert "checked by look-up" in items[emails[0]].detail
    assert items[emails[5]].detail == "Removed from the blacklist."
    calls = list(job.operation.calls.all())
    assert [c.method for c in calls] == ["DELETE", "GET", "DELETE"]
    assert calls[0].status_code is None
    assert "unknown" in calls[0].error
    assert calls[1].purpose == "look-up to settle the outcome"
    assert len(calls) == len(responses.calls)


@responses.activate
def test_lost_answer_whose_lookup_fails_is_unknown_never_resent(operator, waits):
    responses.add(responses.DELETE, URL, body=requests.exceptions.ReadTimeout("t"))
    responses.add(responses.GET, URL, status=500, json={})
    job = run(start_job(operator, addresses(3)))
    assert len(deletes()) == 1
    assert job.unknown == 3
    assert job.status == OperationStatus.UNKNOWN


@pytest.mark.parametrize(
    ("status", "detail"), [(401, "Invalid api key"), (400, "Value of emails is incorrect.")]
)
@responses.activate
def test_refused_request_stops_the_job_and_leaves_the_rest_unsent(operator, waits, status, detail):
    body = {"title": "x", "status": status, "detail": detail, "timestamp": "2025-03-05 17:57:00"}
    responses.add(responses.DELETE, URL, status=status, json=body)
    job = run(start_job(operator, addresses(1100)))
    assert len(responses.calls) == 1
    assert job.status == OperationStatus.STOPPED
    assert detail in job.stop_reason
    assert (job.failed, job.not_sent) == (500, 600)
    unsent = job.operation.items.filter(outcome=ItemOutcome.NOT_SENT).first()
    assert detail in unsent.detail
    assert job.operation.summary.endswith(job.stop_reason)
    assert job.operation.events.filter(kind=EventKind.STOPPED).exists()


@responses.activate
def test_cancel_stops_after_the_request_in_flight_and_names_who(operator, waits):
    colleague = make_user("carl.colleague", "Operators")
    emails = addresses(1500)
    listed = set(emails)
    job = start_job(operator, emails)

    def cancel_during_first_chunk(request):
        assert job_cancel(Job.objects.get(pk=job.pk), actor=colleague)
        return remove_answering(listed)(request)

    responses.add_callback(responses.DELETE, URL, callback=cancel_during_first_chunk)
    job = run(job)
    assert len(deletes()) == 1
    assert job.status == OperationStatus.CANCELLED
    assert (job.done, job.not_sent, job.sent_or_settled) == (500, 1000, 500)
    assert job.stop_reason == "Cancelled by carl.colleague."
    assert "Cancelled" in job.operation.summary
    events = {event.kind: event for event in job.operation.events.all()}
    assert events[EventKind.CANCEL_REQUESTED].actor_username == "carl.colleague"
    assert "1,000 not sent" in events[EventKind.CANCELLED].detail


@responses.activate
def test_a_cancel_arriving_with_the_last_answer_changes_nothing(operator, waits):
    emails = addresses(3)
    job = start_job(operator, emails)

    def cancel_now(request):
        job_cancel(Job.objects.get(pk=job.pk), actor=operator)
        return remove_answering(set(emails))(request)

    responses.add_callback(responses.DELETE, URL, callback=cancel_now)
    job = run(job)
    assert job.status == OperationStatus.SUCCEEDED  # everything had been sent
    assert job.not_sent == 0


def test_a_cancel_with_no_worker_is_recorded_at_once(operator):
    job = start_job(operator, addresses(1200))
    assert job_cancel(job, actor=operator)
    job = Job.objects.select_related("operation").get(pk=job.pk)
    assert job.status == OperationStatus.CANCELLED
    assert job.not_sent == 1200
    assert job.operation.items.filter(outcome=ItemOutcome.NOT_SENT).count() == 1200
    assert ProviderCall.objects.count() == 0
    assert not job_cancel(job, actor=operator)  # already over


def test_missing_configuration_leaves_the_job_waiting_and_says_why(operator, settings):
    job = start_job(operator, addresses(3))
    settings.WOODPECKER_API_KEY = ""
    job = run(job)
    assert job.status == OperationStatus.PENDING  # never ended for a worker's configuration
    assert "WOODPECKER_API_KEY" in job.waiting_note
    assert job.owner == ""
    assert ProviderCall.objects.count() == 0


def test_another_accounts_key_is_never_used_for_a_job(operator, settings):
    job = start_job(operator, addresses(3))
    settings.WOODPECKER_API_KEY = "another-accounts-key"
    job = run(job)
    assert job.status == OperationStatus.PENDING
    assert "not the one this job was started with" in job.waiting_note


def test_confirming_the_same_draft_twice_starts_one_job(
    operator, django_capture_on_commit_callbacks
):
    draft = make_draft(operator, addresses(3))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = removal_job_start(actor=operator, draft=draft, reason="r")
        second = removal_job_start(actor=operator, draft=draft, reason="r")
    assert first.pk == second.pk
    assert len(callbacks) == 1
    assert Job.objects.count() == 1


def test_blank_reason_is_refused_before_anything_is_recorded(operator):
    with pytest.raises(RemovalRequestInvalid, match=REASON_REQUIRED):
        start_job(operator, addresses(1), reason="  ")
    assert Job.objects.count() == 0


def test_the_api_key_is_not_stored_with_the_job(operator, settings):
    job = start_job(operator, addresses(1))
    assert settings.WOODPECKER_API_KEY not in json.dumps(
        list(Job.objects.filter(pk=job.pk).values()), default=str
    )
