"""Reads of the audit log: the review pages, the CSV export and the export command.

Every queryset here uses ``FETCH_RAISE``. The pages and exports show only what these queries
fetch (counts are annotated, items and calls prefetched), so a lazy load would be one hidden
query per row: it fails loudly in the tests instead of slowly in production.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import unquote

from django.db.models import (
    FETCH_RAISE,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from suppression_admin.audit.models import (
    DONE_OUTCOMES,
    Operation,
    OperationEvent,
    OperationItem,
    ProviderCall,
)

# People paste whole profile URLs; the audit stores only the public identifier (the slug).
LINKEDIN_PROFILE = re.compile(r"linkedin\.com/in/([^/?#\s]+)", re.IGNORECASE)


def operations_filtered(
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    actor: str = "",
    provider: str = "",
    status: str = "",
    identifier: str = "",
) -> QuerySet[Operation]:
    """Operations matching every given filter, newest first, with their counts annotated.

    Dates are inclusive UTC days on ``created_at``. ``identifier`` (email, LinkedIn slug or
    URL, WaLead lead id) finds every operation with an item whose identifier or label
    contains it, ignoring case.

    Annotations: ``item_total``, ``item_done`` (outcome in DONE_OUTCOMES), ``call_total``.
    """
    operations = _created_between(Operation.objects.all(), date_from, date_to)
    if actor:
        operations = operations.filter(actor_username__icontains=actor)
    if provider:
        operations = operations.filter(provider=provider)
    if status:
        operations = operations.filter(status=status)
    if needle := _identifier_needle(identifier):
        touched = OperationItem.objects.filter(operation=OuterRef("pk")).filter(
            Q(identifier__icontains=needle) | Q(label__icontains=needle)
        )
        # Exists, not a join: an operation touching the person twice must appear once.
        operations = operations.filter(Exists(touched))
    return operations.annotate(
        item_total=_count_per_operation(OperationItem.objects.all()),
        item_done=_count_per_operation(OperationItem.objects.filter(outcome__in=DONE_OUTCOMES)),
        call_total=_count_per_operation(ProviderCall.objects.all()),
    ).fetch_mode(FETCH_RAISE)


def operation_with_details(pk: int) -> Operation | None:
    """One operation with its item and call counts annotated, or None.

    Its items and calls are read a page at a time (``operation_items``, ``operation_calls``):
    a bulk removal can hold a million items.
    """
    return operations_filtered().filter(pk=pk).first()


def operation_events(operation: Operation) -> QuerySet[OperationEvent]:
    """What happened to the operation's job, oldest first (none for an operation recorded
    before unblocks ran as jobs)."""
    return (
        OperationEvent.objects.filter(operation=operation)
        .order_by("at", "id")
        .fetch_mode(FETCH_RAISE)
    )


def operation_items(operation: Operation) -> QuerySet[OperationItem]:
    """The operation's items by position, each with ``call_sequence``, the number of the call
    that decided it (so showing it needs neither a lazy load nor the call itself)."""
    return (
        OperationItem.objects.filter(operation=operation)
        .annotate(call_sequence=F("call__sequence"))
        .order_by("position")
        .fetch_mode(FETCH_RAISE)
    )


def operation_calls(operation: Operation) -> QuerySet[ProviderCall]:
    return (
        ProviderCall.objects.filter(operation=operation)
        .order_by("sequence")
        .fetch_mode(FETCH_RAISE)
    )


def operations_with_items(operations: QuerySet[Operation]) -> QuerySet[Operation]:
    """The same operations with their items prefetched by position (one query per chunk)."""
    items = OperationItem.objects.order_by("position").fetch_mode(FETCH_RAISE)
    return operations.prefetch_related(Prefetch("items", queryset=items))


def operations_for_export(
    *, date_from: date | None = None, date_to: date | None = None
) -> QuerySet[Operation]:
    """Operations created in the inclusive UTC date range, oldest first, items and calls
    prefetched. Iterate it with ``.iterator(chunk_size=...)`` to prefetch per chunk."""
    # The export never shows these large texts; leaving them out keeps each chunk small.
    calls = ProviderCall.objects.defer("request_body", "answer_excerpt").order_by("sequence")
    items = OperationItem.objects.order_by("position")
    return (
        _created_between(Operation.objects.all(), date_from, date_to)
        .order_by("created_at", "id")
        .prefetch_related(
            Prefetch("items", queryset=items.fetch_mode(FETCH_RAISE)),
            Prefetch("calls", queryset=calls.fetch_mode(FETCH_RAISE)),
        )
        .fetch_mode(FETCH_RAISE)
    )


def _created_between(
    operations: QuerySet[Operation], date_from: date | None, date_to: date | None
) -> QuerySet[Operation]:
    # Bounds on the column itself (not created_at__date) so the created_at index is used.
    if date_from:
        operations = operations.filter(created_at__gte=_utc_midnight(date_from))
    if date_to:
        operations = operations.filter(created_at__lt=_utc_midnight(date_to + timedelta(days=1)))
    return operations


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _identifier_needle(identifier: str) -> str:
    identifier = identifier.strip()
    if match := LINKEDIN_PROFILE.search(identifier):
        return unquote(match.group(1))
    return identifier


def _count_per_operation(rows: QuerySet) -> Coalesce:
    counted = (
        rows.filter(operation=OuterRef("pk"))
        .order_by()
        .values("operation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # A subquery per count, not Count() over joins: joining items and calls would multiply them.
    return Coalesce(Subquery(counted), Value(0), output_field=IntegerField())
