"""Audit records for tests, written the way the application writes them."""

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import User

from suppression_admin.audit.models import Action, ItemOutcome, Operation, Provider, Source
from suppression_admin.audit.services import (
    AuditCallLog,
    ItemDraft,
    items_set_outcome,
    operation_finish,
    operation_mark_started,
    operation_start,
)


def record_operation(
    actor: User,
    items: Sequence[ItemDraft],
    *,
    provider: str = Provider.WALEAD,
    reason: str = "Asked to hear from us again",
    ticket: str = "SUP-7",
    source: str = Source.WEB,
    source_detail: dict | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    finish: bool = True,
    purpose: str = "unblock",
    path: str = "/blocked-leads",
    request_body: str = "{}",
    answer_status: int | None = 200,
    answer_excerpt: str = "",
    duration_ms: int = 37,
    outcome: str = ItemOutcome.UNBLOCKED,
    outcomes: Sequence[str] | None = None,
    detail: str = "",
    created_at: datetime | None = None,
    extra_calls: Sequence[str] = (),
) -> Operation:
    """Write an operation through the real audit services and return it, read back.

    The operation is started (``operation_start`` + ``operation_mark_started``); the action
    is "unblock" for WaLead and "remove" otherwise. With ``finish`` and at least one item,
    one ``DELETE`` call is logged through ``AuditCallLog`` for all the items, each item is
    given ``outcome`` (or its own entry of ``outcomes``, in order) with ``detail``, and the
    operation is finished. ``answer_status=None`` is a call that got no answer ("timeout").
    ``extra_calls`` are the purposes of further ``GET`` calls logged (with no answer)
    before it finishes. Without ``finish`` the operation stays started, with no call and
    every item pending.

    The services stamp "now"; ``created_at`` then moves the record in time with an UPDATE,
    to test date filters and ordering.
    """
    operation, _ = operation_start(
        provider=provider,
        action=Action.UNBLOCK if provider == Provider.WALEAD else Action.REMOVE,
        actor=actor,
        reason=reason,
        ticket=ticket,
        source=source,
        items=items,
        source_detail=source_detail,
        client_ip=client_ip,
        user_agent=user_agent,
    )
    operation_mark_started(operation)
    if finish:
        if items:
            log = AuditCallLog(operation)
            log.purpose = purpose
            call = log.started(method="DELETE", path=path, item_count=len(items), body=request_body)
            answered = answer_status is not None
            log.finished(
                call,
                status=answer_status,
                answer_excerpt=answer_excerpt if answered else "",
                error="" if answered else "timeout",
                sent_at=call.started_at,
                duration_ms=duration_ms,
            )
            stored = list(operation.items.order_by("position"))
            decided = list(outcomes) if outcomes is not None else [outcome] * len(stored)
            for item, item_outcome in zip(stored, decided, strict=True):
                items_set_outcome([item], item_outcome, detail, call=call)
        for extra in extra_calls:
            log = AuditCallLog(operation)
            log.purpose = extra
            log.started(method="GET", path="/leads", item_count=0, body="")
        operation_finish(operation)
    if created_at is not None:
        from tests.conftest import audit_unguarded

        with audit_unguarded():  # the past, made for date filters: no application path
            Operation.objects.filter(pk=operation.pk).update(created_at=created_at)
    return Operation.objects.get(pk=operation.pk)
