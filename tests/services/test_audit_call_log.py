"""AuditCallLog: one committed row per request, written before it; optionally conditional."""

from datetime import timedelta

import pytest
from django.utils import timezone

from suppression_admin.audit.models import Operation, Provider, ProviderCall
from suppression_admin.audit.services import AuditCallLog, CallRefused
from tests.audit_factories import record_operation

pytestmark = pytest.mark.django_db


def request(**overrides) -> dict:
    return {"method": "DELETE", "path": "/v2/blacklist/emails", "item_count": 2, "body": "{}"} | (
        overrides
    )


def test_a_conditional_call_row_is_written_like_any_other_when_the_condition_is_clear(operator):
    operation = record_operation(operator, [], provider=Provider.WOODPECKER, finish=False)
    log = AuditCallLog(operation)
    log.purpose, log.batch = "remove chunk 3", 2
    cancelled = Operation.objects.filter(pk=operation.pk, ticket="CANCELLED")

    call = log.started(**request(body='{"emails": ["a@x.com"]}'), unless=cancelled)

    stored = ProviderCall.objects.get(pk=call.pk)
    assert (stored.sequence, stored.purpose, stored.batch) == (1, "remove chunk 3", 2)
    assert (stored.method, stored.item_count, stored.request_body) == (
        "DELETE",
        2,
        '{"emails": ["a@x.com"]}',
    )
    assert abs(stored.started_at - timezone.now()) < timedelta(minutes=1)
    assert stored.finished_at is None
    log.finished(call, status=200, answer_excerpt="{}", error="", duration_ms=12)
    assert ProviderCall.objects.get(pk=call.pk).status_code == 200


def test_a_conditional_call_row_is_refused_when_the_condition_holds(operator):
    operation = record_operation(operator, [], provider=Provider.WOODPECKER, finish=False)
    log = AuditCallLog(operation)
    log.started(**request())
    Operation.objects.filter(pk=operation.pk).update(ticket="CANCELLED")
    cancelled = Operation.objects.filter(pk=operation.pk, ticket="CANCELLED")

    with pytest.raises(CallRefused):
        log.started(**request(), unless=cancelled)

    assert operation.calls.count() == 1
    assert log.started(**request()).sequence == 2  # the refused one took no number
