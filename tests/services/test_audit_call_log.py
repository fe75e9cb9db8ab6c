"""AuditCallLog: one row per request, written before it; its answer with observed times."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from suppression_admin.audit.models import Provider, ProviderCall
from suppression_admin.audit.services import AuditCallLog
from tests.audit_factories import record_operation

pytestmark = pytest.mark.django_db


def request(**overrides) -> dict:
    return {"method": "DELETE", "path": "/v2/blacklist/emails", "item_count": 2, "body": "{}"} | (
        overrides
    )


def test_the_row_is_written_before_the_request_and_counts_on(operator):
    operation = record_operation(operator, [], provider=Provider.WOODPECKER, finish=False)
    log = AuditCallLog(operation)
    log.purpose, log.batch = "remove batch 3", 2

    call = log.started(**request(body='{"emails": ["a@x.com"]}'))

    stored = ProviderCall.objects.get(pk=call.pk)
    assert (stored.sequence, stored.purpose, stored.batch) == (1, "remove batch 3", 2)
    assert (stored.method, stored.item_count, stored.request_body) == (
        "DELETE",
        2,
        '{"emails": ["a@x.com"]}',
    )
    assert stored.finished_at is None
    assert log.started(**request()).sequence == 2


def test_the_answer_is_recorded_with_the_times_observed(operator):
    operation = record_operation(operator, [], provider=Provider.WOODPECKER, finish=False)
    log = AuditCallLog(operation)
    call = log.started(**request())
    sent_at = datetime(2026, 12, 1, 9, 30, 0, 250_000, tzinfo=UTC)

    log.finished(call, status=200, answer_excerpt="{}", error="", sent_at=sent_at, duration_ms=52)

    stored = ProviderCall.objects.get(pk=call.pk)
    assert stored.status_code == 200
    assert stored.started_at == sent_at  # when the request went out, not when it was recorded
    assert stored.duration_ms == 52
    assert stored.finished_at == sent_at + timedelta(milliseconds=52)


def test_a_row_written_in_the_callers_transaction_is_gone_if_it_rolls_back(operator):
    operation = record_operation(operator, [], provider=Provider.WOODPECKER, finish=False)
    log = AuditCallLog(operation)

    def written_then_failed():
        with transaction.atomic():
            log.started(**request())
            raise RuntimeError  # the caller's transaction failed: nothing was sent either

    with pytest.raises(RuntimeError):
        written_then_failed()
    assert operation.calls.count() == 0
