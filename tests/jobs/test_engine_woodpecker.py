"""The job engine on a removal, against faked HTTP: chunks, rests, settling, stops, cancel."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from suppression_admin.audit.models import (
    EventKind,
    ItemOutcome,
    OperationStatus,
    ProviderCall,
)
from suppression_admin.jobs import engine
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.services import job_cancel
from suppression_admin.woodpecker.services import (
    REASON_REQUIRED,
    RemovalRequestInvalid,
    removal_job_start,
)
from tests.conftest import make_user
from tests.woodpecker.factories import addresses, make_draft, run, start_job

pytestmark = pytest.mark.usefixtures("fake_woodpecker")


@pytest.fixture
def waits(clock, monkeypatch):
    """The rests the job takes, each in one piece, the clock moved instead of waited for."""
    monkeypatch.setattr("suppression_admin.jobs.engine.REST_SLICE_SECONDS", 3600)
    return clock.slept


def remove_answering(listed: set[str]):
    """A DELETE answer that removes whatever of ``listed`` is asked for, like Woodpecker."""

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


def deletes(fake) -> list[list[str]]:
    return [json.loads(request.body)["emails"] for request in fake.sent("DELETE")]


def cancel_while_the_request_is_out(monkeypatch, job, actor, *, request: int = 1):
    """A cancel made while the job's ``request``-th request is out (the job's writing runs
    then, on the job's own thread and connection)."""
    real = engine._while_out
    seen = []

    def while_out(*args, **kwargs):
        seen.append(1)
        if len(seen) == request:
            assert job_cancel(Job.objects.get(pk=job.pk), actor=actor)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_while_out", while_out)


def test_job_sends_chunks_of_at_most_500_and_records_each_outcome(operator, waits, fake_woodpecker):
    emails = addresses(1200)
    listed = set(emails[::2])
    fake_woodpecker.on("DELETE", remove_answering(listed))
    job = run(start_job(operator, emails, ticket="SUP-1"))

    assert [len(body) for body in deletes(fake_woodpecker)] == [500, 500, 200]
    assert [e for body in deletes(fake_woodpecker) for e in body] == emails
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
    assert operation.calls.count() == len(fake_woodpecker.requests) == 3
    assert list(operation.calls.values_list("item_count", flat=True)) == [500, 500, 200]
    second = operation.calls.get(sequence=2)
    assert operation.items.get(identifier=emails[500]).call == second
    assert waits == []
    kinds = list(operation.events.values_list("kind", flat=True))
    assert kinds == [EventKind.REQUESTED, EventKind.STARTED, EventKind.FINISHED]


def test_a_job_and_its_operation_share_one_number_and_one_status(operator, waits, fake_woodpecker):
    fake_woodpecker.on("DELETE", remove_answering(set()))
    job = start_job(operator, addresses(2))
    assert job.pk == job.operation.pk
    assert job.get_status_display() == "Queued"
    job = run(job)
    assert job.operation.get_status_display() == job.get_status_display() == "Succeeded"


def test_recorded_times_are_observed_not_computed(operator, waits, monkeypatch, fake_woodpecker):
    import time as real_time

    def slow(request):
        real_time.sleep(0.12)
        return remove_answering(set())(request)

    fake_woodpecker.on("DELETE", slow)
    before = timezone.now()
    job = run(start_job(operator, addresses(3)))
    call = job.operation.calls.get()
    assert call.started_at >= before
    assert call.duration_ms >= 120
    assert call.finished_at - call.started_at == timedelta(milliseconds=call.duration_ms)


def test_rate_limited_chunk_rests_as_told_and_is_retried_alone(operator, waits, fake_woodpecker):
    emails = addresses(600)
    listed = set(emails)
    fake_woodpecker.answer("DELETE", status=429, headers={"Retry-After": "7"})
    fake_woodpecker.on("DELETE", remove_answering(listed))
    job = run(start_job(operator, emails))

    assert sum(waits) == pytest.approx(7.0, abs=0.5)
    assert [len(body) for body in deletes(fake_woodpecker)] == [500, 500, 100]
    assert (
        deletes(fake_woodpecker)[0] == deletes(fake_woodpecker)[1]
    )  # the refused chunk, again; nothing else twice
    assert job.status == OperationStatus.SUCCEEDED
    assert job.done == 600
    purposes = list(job.operation.calls.values_list("purpose", flat=True))
    assert purposes == ["remove batch 1", "remove batch 1 (attempt 2)", "remove batch 2"]


def test_a_retry_after_rests_the_key_for_every_job_and_look_up(operator, waits, fake_woodpecker):
    from suppression_admin.connections import woodpecker_client
    from suppression_admin.keys.lock import KeyResting

    fake_woodpecker.answer("DELETE", status=429, headers={"Retry-After": "120"})
    job = start_job(operator, addresses(3))
    run(job, seconds=0.5)  # the rest outlasts the run: it ends, resting

    job.refresh_from_db()
    assert job.resume_at > timezone.now() + timedelta(seconds=100)
    with pytest.raises(KeyResting, match="asked us to wait") as quiet:
        woodpecker_client().lookup(["a@example.com"])
    assert quiet.value.until == pytest.approx(job.resume_at, abs=timedelta(seconds=2))
    assert len(fake_woodpecker.requests) == 1  # the look-up sent nothing


def test_a_cancel_during_a_long_rest_is_not_kept_waiting(operator, monkeypatch, fake_woodpecker):
    fake_woodpecker.answer("DELETE", status=429, headers={"Retry-After": "30"})
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
    assert len(deletes(fake_woodpecker)) == 1
    assert job.not_sent == 1000


def test_unavailable_without_retry_after_backs_off_exponentially(
    operator, waits, settings, fake_woodpecker
):
    settings.JOB_MAX_ATTEMPTS = 3
    for _ in range(3):
        fake_woodpecker.answer("DELETE", status=503, json_body={"detail": "maintenance"})
    job = run(start_job(operator, addresses(3)))
    assert waits == pytest.approx([2.0, 4.0], abs=0.5)
    assert job.status == OperationStatus.STOPPED
    assert "Gave up after 3 attempts" in job.stop_reason
    assert set(job.operation.items.values_list("outcome", flat=True)) == {ItemOutcome.FAILED}


def test_retry_after_beyond_the_bound_stops_the_job_clearly(operator, waits, fake_woodpecker):
    fake_woodpecker.answer("DELETE", status=429, headers={"Retry-After": "86400"})
    job = run(start_job(operator, addresses(700)))
    assert waits == []
    assert job.status == OperationStatus.STOPPED
    assert "86400 s" in job.stop_reason
    assert (job.failed, job.not_sent) == (500, 200)
    assert len(fake_woodpecker.requests) == 1


def test_lost_answer_is_settled_by_lookup_and_only_unapplied_ones_are_resent(
    operator, waits, fake_woodpecker
):
    emails = addresses(10)
    listed = set(emails)
    # The lost request did remove the first four; the look-up shows the other six remain.
    fake_woodpecker.drop("DELETE", then=lambda request: listed.difference_update(emails[:4]))
    fake_woodpecker.on("GET", lookup_answering(listed))
    fake_woodpecker.on("DELETE", remove_answering(listed))
    job = run(start_job(operator, emails))

    assert deletes(fake_woodpecker) == [emails, emails[4:]]
    assert job.status == OperationStatus.SUCCEEDED
    items = {item.identifier: item for item in job.operation.items.all()}
    assert "checked by look-up" in items[emails[0]].detail
    assert items[emails[5]].detail == "Removed from the blacklist."
    calls = list(job.operation.calls.all())
    assert [c.method for c in calls] == ["DELETE", "GET", "DELETE"]
    assert calls[0].status_code is None
    assert "unknown" in calls[0].error
    assert calls[1].purpose == "look-up to learn the outcome"
    assert len(calls) == len(fake_woodpecker.requests)


def test_lost_answer_whose_lookup_fails_is_unknown_never_resent(operator, waits, fake_woodpecker):
    fake_woodpecker.drop("DELETE")
    fake_woodpecker.answer("GET", status=500, json_body={})
    job = run(start_job(operator, addresses(3)))
    assert len(deletes(fake_woodpecker)) == 1
    assert job.unknown == 3
    assert job.status == OperationStatus.UNKNOWN


@pytest.mark.parametrize(
    ("status", "detail"), [(401, "Invalid api key"), (400, "Value of emails is incorrect.")]
)
def test_refused_request_stops_the_job_and_leaves_the_rest_unsent(
    operator, waits, status, detail, fake_woodpecker
):
    body = {"title": "x", "status": status, "detail": detail, "timestamp": "2025-03-05 17:57:00"}
    fake_woodpecker.answer("DELETE", status=status, json_body=body)
    job = run(start_job(operator, addresses(1100)))
    assert len(fake_woodpecker.requests) == 1
    assert job.status == OperationStatus.STOPPED
    assert detail in job.stop_reason
    assert (job.failed, job.not_sent) == (500, 600)
    unsent = job.operation.items.filter(outcome=ItemOutcome.NOT_SENT).first()
    assert detail in unsent.detail
    assert job.operation.summary.endswith(job.stop_reason)
    assert job.operation.events.filter(kind=EventKind.STOPPED).exists()
    assert job.retryable == 1100  # the refused chunk (nothing changed) and the rest


def test_cancel_stops_after_the_request_in_flight_and_names_who(
    operator, waits, fake_woodpecker, monkeypatch
):
    colleague = make_user("carl.colleague", "Operators")
    emails = addresses(1500)
    job = start_job(operator, emails)
    fake_woodpecker.on("DELETE", remove_answering(set(emails)))
    cancel_while_the_request_is_out(monkeypatch, job, colleague)
    job = run(job)
    assert len(deletes(fake_woodpecker)) == 1
    assert job.status == OperationStatus.CANCELLED
    assert (job.done, job.not_sent, job.sent_or_settled) == (500, 1000, 500)
    assert job.stop_reason == "Cancelled by carl.colleague."
    assert "Cancelled" in job.operation.summary
    events = {event.kind: event for event in job.operation.events.all()}
    assert events[EventKind.CANCEL_REQUESTED].actor_username == "carl.colleague"
    assert "1,000 not sent" in events[EventKind.CANCELLED].detail


def test_a_cancel_arriving_with_the_last_answer_changes_nothing(
    operator, waits, fake_woodpecker, monkeypatch
):
    emails = addresses(3)
    job = start_job(operator, emails)
    fake_woodpecker.on("DELETE", remove_answering(set(emails)))
    cancel_while_the_request_is_out(monkeypatch, job, operator)
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


def test_a_look_up_refused_for_now_is_tried_again_after_a_rest_not_given_up(
    operator, waits, fake_woodpecker
):
    emails = addresses(3)
    listed = set(emails)
    # The removal's answer is lost; the look-ups meet a Woodpecker that is down for a while.
    fake_woodpecker.drop("DELETE", then=lambda request: listed.clear())
    fake_woodpecker.answer("GET", status=503, headers={"Retry-After": "20"})
    fake_woodpecker.answer("GET", status=503, headers={"Retry-After": "20"})
    fake_woodpecker.on("GET", lookup_answering(listed))
    job = run(start_job(operator, emails))

    assert job.status == OperationStatus.SUCCEEDED
    assert len(deletes(fake_woodpecker)) == 1  # never sent again blind
    assert len(fake_woodpecker.sent("GET")) == 3
    assert sum(waits) >= 40
    assert all("checked by look-up" in item.detail for item in job.operation.items.all())
    assert "did not answer" in job.operation.items.first().detail or "dropped" in (
        job.operation.items.first().detail
    )


def test_after_a_timeout_nothing_is_sent_while_the_request_may_still_run(
    operator, fake_woodpecker, settings
):
    import time as real_time

    settings.WOODPECKER_READ_TIMEOUT_SECONDS = 0.5
    emails = addresses(3)
    listed = set(emails)
    timeline: list[tuple[str, float]] = []

    def slow_removal(request):  # answered after our wait gave up: applied all the same
        timeline.append(("delete starts", real_time.monotonic()))
        real_time.sleep(0.8)
        listed.clear()
        timeline.append(("delete ends", real_time.monotonic()))
        return 200, {}, json.dumps({"emails": emails})

    def look_up(request):
        timeline.append(("look-up", real_time.monotonic()))
        return lookup_answering(listed)(request)

    fake_woodpecker.on("DELETE", slow_removal)
    fake_woodpecker.on("GET", look_up)
    job = run(start_job(operator, emails))

    moments = dict(timeline)
    assert moments["look-up"] > moments["delete ends"]  # never two open at once
    assert len(deletes(fake_woodpecker)) == 1  # and so never sent twice
    assert job.gone == 3
    assert job.status == OperationStatus.SUCCEEDED
