"""Reads of the audit log: the review pages, the exports and the export command.

Every queryset here uses ``FETCH_RAISE``. The pages and exports show only what these queries
fetch (counts are stored on the operation, items and calls read a page or a stream at a
time), so a lazy load would be one hidden query per row: it fails loudly in the tests
instead of slowly in production.

Nothing here scans the items: a person is found by the items' indexed search key
(audit.identifiers), exactly or by the start of it.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import FETCH_RAISE, F, Q, QuerySet

from suppression_admin.audit.identifiers import normalised, ticket_key
from suppression_admin.audit.models import (
    Operation,
    OperationEvent,
    OperationItem,
    ProviderCall,
)

EXACT = "exact"
PREFIX = "prefix"


def operations_filtered(
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    actor: str = "",
    provider: str = "",
    status: str = "",
    identifier: str = "",
    ticket: str = "",
    reason: str = "",
    match: str = EXACT,
) -> QuerySet[Operation]:
    """Operations matching every given filter, newest first.

    Dates are inclusive UTC days on ``created_at``. ``identifier`` (email, LinkedIn slug or
    profile URL, WaLead lead id) finds every operation with an item known by it; ``ticket``
    the operations of that ticket; ``match`` says whether both are whole values or the start
    of one. ``reason`` finds reasons holding every one of its words, ignoring case.
    """
    operations = _created_between(Operation.objects.all(), date_from, date_to)
    if actor:
        operations = operations.filter(actor_username__icontains=actor)
    if provider:
        operations = operations.filter(provider=provider)
    if status:
        operations = operations.filter(status=status)
    if ticket.strip():
        operations = operations.filter(_matching("ticket_key", ticket_key(ticket), match))
    if identifier.strip():
        if not normalised(identifier):
            return operations.none()  # (the form refuses it: it names nobody)
        # IN, not a join: an operation touching the person twice must appear once.
        touched = items_matching(identifier, match).values("operation_id")
        operations = operations.filter(pk__in=touched)
    for word in reason.split():
        operations = operations.filter(reason__icontains=word)
    return operations.fetch_mode(FETCH_RAISE)


def items_matching(identifier: str, match: str = EXACT) -> QuerySet[OperationItem]:
    """Items known by ``identifier``: its search key, or (exactly) a WaLead lead id."""
    found = _matching("search_key", normalised(identifier), match)
    if match == EXACT:
        found |= Q(identifier=identifier.strip()) & ~Q(label="")
    return OperationItem.objects.filter(found)


def _matching(field: str, value: str, match: str) -> Q:
    return starting_with(field, value) if match == PREFIX else Q(**{field: value})


def starting_with(field: str, prefix: str) -> Q:
    """Rows whose ``field`` starts with ``prefix`` (case as given), served by its index.

    On PostgreSQL that is LIKE 'prefix%' (the index has the pattern operator class). SQLite
    does not use an index for its LIKE, which also ignores case; a range over the binary
    order does, and holds exactly the strings starting with the prefix.
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__startswith": prefix})
    after = _next_string(prefix)
    bounds = {f"{field}__gte": prefix}
    if after is not None:
        bounds[f"{field}__lt"] = after
    return Q(**bounds)


def _next_string(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix``."""
    stripped = prefix.rstrip(chr(0x10FFFF))
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates cannot be encoded; none is ever stored
        following = 0xE000
    return stripped[:-1] + chr(following)


def person_items(identifier: str) -> QuerySet[OperationItem]:
    """Every item known by ``identifier`` (exactly), with its operation, oldest first."""
    return (
        items_matching(identifier)
        .select_related("operation")
        .order_by("operation__created_at", "operation_id", "position")
        .fetch_mode(FETCH_RAISE)
    )


def operation_with_details(pk: int) -> Operation | None:
    """One operation (its counts are stored on it), or None.

    Its items and calls are read a page at a time (``operation_items``, ``operation_calls``):
    a bulk removal can hold a million items.
    """
    return Operation.objects.filter(pk=pk).fetch_mode(FETCH_RAISE).first()


def operation_events(operation: Operation) -> QuerySet[OperationEvent]:
    """What happened to the operation's job, oldest first (none for an operation recorded
    before unblocks ran as jobs)."""
    return (
        OperationEvent.objects.filter(operation=operation)
        .order_by("at", "id")
        .fetch_mode(FETCH_RAISE)
    )


def operation_items(
    operation: Operation, *, only: list[int] | None = None
) -> QuerySet[OperationItem]:
    """The operation's items by position (only the ids in ``only``, when given), each with
    ``call_sequence``, the number of the call that decided it (so showing it needs neither a
    lazy load nor the call itself)."""
    items = (
        OperationItem.objects.filter(operation=operation)
        if only is None
        # Those ids are the operation's already; filtering by the operation as well would
        # invite SQLite to walk the operation's items by position instead (see below).
        else OperationItem.objects.filter(pk__in=only)
    )
    return (
        items.annotate(call_sequence=F("call__sequence"))
        .order_by("position")
        .fetch_mode(FETCH_RAISE)
    )


FIND_SCAN = 10_000


def item_ids_found(operation: Operation, find: str, match: str = EXACT) -> tuple[list[int], bool]:
    """Ids of the operation's items known by ``find``, and whether the search stopped early.

    Found through the search key's index across the audit, then kept if they are this
    operation's. Asked in one query ("this key in this operation"), SQLite, which keeps no
    statistics of how big each operation is, walks the operation's items instead: a third
    of a second for a million. One person's items across the audit are few; a short start
    of an address may match many, so at most FIND_SCAN matches are looked at (then True).
    """
    matches = list(
        items_matching(find, match).order_by().values_list("pk", "operation_id")[: FIND_SCAN + 1]
    )
    ids = [pk for pk, operation_id in matches[:FIND_SCAN] if operation_id == operation.pk]
    return ids, len(matches) > FIND_SCAN


def operation_calls(operation: Operation) -> QuerySet[ProviderCall]:
    return (
        ProviderCall.objects.filter(operation=operation)
        .order_by("sequence")
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
