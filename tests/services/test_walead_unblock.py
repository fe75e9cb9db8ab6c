import json

import pytest
import requests
import responses

from suppression_admin.audit.models import ItemOutcome, Operation, OperationStatus, ProviderCall
from suppression_admin.jobs import engine
from suppression_admin.jobs.models import Job
from suppression_admin.providers.errors import ProviderNotConfigured
from suppression_admin.walead.services import (
    REASON_REQUIRED,
    LeadSnapshot,
    UnblockRequestInvalid,
    leads_unblock,
    reason_looks_like_opt_out,
)
from tests.conftest import TEST_WALEAD_KEY, TEST_WALEAD_URL
from tests.woodpecker.factories import run

URL = f"{TEST_WALEAD_URL}/v1/blocked-leads"
pytestmark = pytest.mark.usefixtures("live_providers")


def snapshots(n: int) -> list[LeadSnapshot]:
    return [
        LeadSnapshot(id=f"id-{i}", public_identifier=f"person-{i}", reason="Existing client")
        for i in range(1, n + 1)
    ]


def unblock(operator, leads, **kwargs):
    """Record the unblock, then run its job here as a worker would."""
    operation = leads_unblock(
        actor=operator,
        leads=leads,
        reason=kwargs.pop("reason", "Client asked to hear from us again"),
        ticket=kwargs.pop("ticket", "TICKET-1"),
        source="web",
        client_ip="10.1.2.3",
        user_agent="pytest",
        **kwargs,
    )
    run(Job.objects.get(pk=operation.pk))
    return Operation.objects.get(pk=operation.pk)


def deleted_ids() -> list[list[str]]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.method == "DELETE"]


@responses.activate
def test_unblock_records_the_operation_and_call_before_sending(operator):
    seen_at_send_time = {}

    def on_delete(request):
        operation = Operation.objects.get()
        call = ProviderCall.objects.get()
        seen_at_send_time.update(
            status=operation.status,
            items=list(operation.items.values_list("identifier", "label", "original_reason")),
            call=(call.method, call.path, call.item_count, call.status_code, call.finished_at),
        )
        return 200, {}, json.dumps({"success": True, "message": "ok", "unblocked": 2})

    responses.add_callback(responses.DELETE, URL, callback=on_delete)
    operation = unblock(operator, snapshots(2))

    assert seen_at_send_time == {
        "status": OperationStatus.IN_PROGRESS,  # "Running"
        "items": [
            ("id-1", "person-1", "Existing client"),
            ("id-2", "person-2", "Existing client"),
        ],
        "call": ("DELETE", "/v1/blocked-leads", 2, None, None),
    }
    operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.actor_username == "olivia.operator"
    assert (operation.reason, operation.ticket, operation.source) == (
        "Client asked to hear from us again",
        "TICKET-1",
        "web",
    )
    assert (operation.client_ip, operation.user_agent) == ("10.1.2.3", "pytest")
    assert operation.finished_at is not None
    assert set(operation.items.values_list("outcome", flat=True)) == {ItemOutcome.UNBLOCKED}
    call = operation.calls.get()
    assert call.status_code == 200
    assert call.duration_ms is not None
    assert json.loads(call.request_body) == ["id-1", "id-2"]
    assert '"unblocked": 2' in call.answer_excerpt


@responses.activate
def test_ids_go_out_in_bounded_chunks(operator, settings):
    settings.JOB_CHUNK_SIZES = {**settings.JOB_CHUNK_SIZES, "walead": 2}
    responses.delete(URL, json={"success": True, "unblocked": 2})
    responses.delete(URL, json={"success": True, "unblocked": 2})
    responses.delete(URL, json={"success": True, "unblocked": 1})
    operation = unblock(operator, snapshots(5))
    assert deleted_ids() == [["id-1", "id-2"], ["id-3", "id-4"], ["id-5"]]
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.calls.count() == 3


@responses.activate
def test_duplicate_leads_are_sent_once(operator):
    responses.delete(URL, json={"success": True, "unblocked": 1})
    leads = snapshots(1) * 3
    operation = unblock(operator, leads)
    assert deleted_ids() == [["id-1"]]
    assert operation.items.count() == 1


@responses.activate
def test_rate_limited_write_is_retried_as_a_new_audited_attempt(operator, clock):
    responses.delete(URL, status=429, headers={"Retry-After": "2"}, json={"message": "slow down"})
    responses.delete(URL, json={"success": True, "unblocked": 2})
    operation = unblock(operator, snapshots(2))
    assert sum(clock.slept) == pytest.approx(2.0, abs=0.1)
    assert deleted_ids() == [["id-1", "id-2"], ["id-1", "id-2"]]
    calls = list(operation.calls.all())
    assert [c.status_code for c in calls] == [429, 200]
    assert [c.purpose for c in calls] == ["unblock batch 1", "unblock batch 1 (attempt 2)"]
    assert operation.status == OperationStatus.SUCCEEDED


@responses.activate
def test_retry_after_beyond_the_bound_stops_clearly_without_waiting(operator, clock):
    responses.delete(URL, status=503, headers={"Retry-After": "3600"}, json={})
    operation = unblock(operator, snapshots(2))
    assert clock.slept == []
    assert len(responses.calls) == 1
    assert operation.status == OperationStatus.STOPPED
    detail = operation.items.first().detail
    assert "3600 s" in detail
    assert "Nothing was changed for it" in detail


@responses.activate
def test_persistent_503_gives_up_after_bounded_attempts(operator, settings, clock):
    settings.JOB_MAX_ATTEMPTS = 3
    for _ in range(3):
        responses.delete(URL, status=503, json={"message": "maintenance"})
    operation = unblock(operator, snapshots(1))
    assert len(deleted_ids()) == 3
    assert operation.calls.count() == 3
    assert operation.status == OperationStatus.STOPPED
    assert "Gave up after 3 attempts" in operation.items.get().detail


@pytest.mark.parametrize(
    "lost_answer",
    [
        requests.exceptions.ReadTimeout("timed out"),
        requests.exceptions.ConnectionError("Connection aborted."),
    ],
)
@responses.activate
def test_unknown_outcome_is_settled_by_lookup_and_only_the_unapplied_are_resent(
    operator, clock, lost_answer
):
    responses.delete(URL, body=lost_answer)
    # person-1 is still on the list (not applied); person-2 is gone (applied).
    # The search stops at the first page that shows the lead.
    responses.get(URL, json=[{"id": "id-1", "publicIdentifier": "person-1", "reason": None}])
    responses.get(URL, json=[])
    responses.delete(URL, json={"success": True, "unblocked": 1})
    operation = unblock(operator, snapshots(2))

    assert deleted_ids() == [["id-1", "id-2"], ["id-1"]]
    outcomes = dict(operation.items.values_list("identifier", "outcome"))
    # Confirmed by WaLead's answer, and off the list by the look-up (applied, or never on it).
    assert outcomes == {"id-1": ItemOutcome.UNBLOCKED, "id-2": ItemOutcome.GONE}
    assert operation.status == OperationStatus.SUCCEEDED
    calls = list(operation.calls.all())
    assert calls[0].method == "DELETE"
    assert calls[0].status_code is None
    assert "unknown" in calls[0].error
    assert [c.path for c in calls[1:3]] == [
        "/v1/blocked-leads?sort=DESC&offset=0&search=person-1",
        "/v1/blocked-leads?sort=DESC&offset=0&search=person-2",
    ]
    assert all(c.purpose == "look-up to learn the outcome" for c in calls[1:3])
    assert "checked by look-up" in operation.items.get(identifier="id-2").detail


@responses.activate
def test_unknown_outcome_whose_lookup_fails_stays_unknown(operator):
    responses.delete(URL, body=requests.exceptions.ReadTimeout("timed out"))
    responses.get(URL, status=500, json={})
    operation = unblock(operator, snapshots(1))
    assert operation.items.get().outcome == ItemOutcome.UNKNOWN
    assert operation.status == OperationStatus.UNKNOWN


@responses.activate
def test_fewer_unblocked_than_sent_is_settled_by_lookup(operator):
    responses.delete(URL, json={"success": True, "unblocked": 1})
    responses.get(URL, json=[])
    responses.get(URL, json=[{"id": "id-2", "publicIdentifier": "person-2", "reason": None}])
    operation = unblock(operator, snapshots(2))
    outcomes = dict(operation.items.values_list("identifier", "outcome"))
    assert outcomes == {"id-1": ItemOutcome.GONE, "id-2": ItemOutcome.FAILED}
    assert "reported 1 of 2" in operation.items.get(identifier="id-2").detail


@responses.activate
def test_malformed_success_answer_is_settled_by_lookup(operator):
    responses.delete(URL, body="<html>oops</html>", status=200)
    responses.get(URL, json=[])
    operation = unblock(operator, snapshots(1))
    assert operation.items.get().outcome == ItemOutcome.GONE
    assert len(deleted_ids()) == 1


@pytest.mark.parametrize(("status", "said"), [(401, "Invalid API key"), (400, "Bad id")])
@responses.activate
def test_a_refused_key_or_request_stops_and_leaves_later_chunks_unsent(
    operator, settings, status, said
):
    # The same rule as a removal: sending more of what was refused would be refused too.
    settings.JOB_CHUNK_SIZES = {**settings.JOB_CHUNK_SIZES, "walead": 1}
    responses.delete(URL, status=status, json={"message": said})
    operation = unblock(operator, snapshots(3))
    assert len(responses.calls) == 1
    outcomes = list(operation.items.values_list("outcome", flat=True))
    assert outcomes == [ItemOutcome.FAILED, ItemOutcome.NOT_SENT, ItemOutcome.NOT_SENT]
    assert operation.status == OperationStatus.STOPPED
    assert said in operation.items.last().detail


@responses.activate
def test_same_idempotency_key_sends_nothing_twice(operator):
    responses.delete(URL, json={"success": True, "unblocked": 1})
    first = unblock(operator, snapshots(1), idempotency_key="a" * 32)
    second = unblock(operator, snapshots(1), idempotency_key="a" * 32)
    assert first.pk == second.pk
    assert len(responses.calls) == 1
    assert Operation.objects.count() == 1


@responses.activate
def test_a_crash_mid_request_leaves_a_record_that_says_so_and_the_next_run_settles_it(
    operator, clock
):
    def bug(request):
        raise RuntimeError("bug")

    responses.add_callback(responses.DELETE, URL, callback=bug)
    with pytest.raises(RuntimeError):
        unblock(operator, snapshots(2))
    operation = Operation.objects.get()
    assert operation.status == OperationStatus.IN_PROGRESS
    assert operation.calls.get().error == "Interrupted: RuntimeError"

    responses.reset()
    responses.get(URL, json=[])  # neither is blocked any more: the request was applied
    run(Job.objects.get(pk=operation.pk))
    operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.calls.get(sequence=1).error == "Interrupted: RuntimeError"  # set once
    assert all("checked by look-up" in item.detail for item in operation.items.all())


@responses.activate
def test_missing_ids_are_recorded_and_never_sent(operator):
    responses.delete(URL, json={"success": True, "unblocked": 1})
    operation = unblock(operator, snapshots(1), missing_ids=["ghost"])
    assert deleted_ids() == [["id-1"]]
    ghost = operation.items.get(identifier="ghost")
    assert ghost.outcome == ItemOutcome.NOT_SENT
    assert operation.status == OperationStatus.PARTIAL


@pytest.mark.parametrize("reason", ["", "   "])
@responses.activate
def test_blank_reason_is_refused_before_any_record_or_request(operator, reason):
    with pytest.raises(UnblockRequestInvalid, match=REASON_REQUIRED):
        unblock(operator, snapshots(1), reason=reason)
    assert Operation.objects.count() == 0
    assert len(responses.calls) == 0


def test_unconfigured_provider_is_refused_before_any_record(operator, settings):
    settings.WALEAD_API_KEY = ""
    with pytest.raises(ProviderNotConfigured, match="WALEAD_API_KEY"):
        unblock(operator, snapshots(1))
    assert Operation.objects.count() == 0


@responses.activate
def test_the_api_key_is_stored_nowhere_in_the_audit(operator, clock):
    responses.delete(URL, status=429, json={"message": "slow"})
    responses.delete(URL, body=requests.exceptions.ReadTimeout("t"))
    responses.get(URL, status=401, json={"message": "bad key"})
    unblock(operator, snapshots(1))
    rows = [*Operation.objects.values(), *ProviderCall.objects.values()]
    assert rows
    assert TEST_WALEAD_KEY not in json.dumps(rows, default=str)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("Requested opt-out", True),
        ("Unsubscribed", True),
        ("GDPR erasure request", True),
        ("asked us to STOP", True),
        ("Existing client", False),
        ("Competitor", False),
        ("", False),
        (None, False),
    ],
)
def test_opt_out_like_reasons_are_recognised(reason, expected):
    assert reason_looks_like_opt_out(reason) is expected


def test_the_engines_clock_is_real_by_default():
    import time

    from django.utils import timezone

    assert engine.sleep is time.sleep
    assert engine.now is timezone.now
