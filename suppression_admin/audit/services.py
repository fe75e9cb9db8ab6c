"""Writing the audit log, ahead of every provider call.

Why nothing here runs inside the provider call's transaction: each write is committed on
its own (autocommit) *before* the request it describes goes out, so a crash, a rollback or
a killed process can never erase the evidence that a request was sent. The worst a crash
can leave is a record that says "sent, no answer recorded" — never silence.
"""

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from itertools import islice

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from suppression_admin.audit.models import (
    DONE_OUTCOMES,
    ItemOutcome,
    Operation,
    OperationItem,
    OperationStatus,
    ProviderCall,
)

logger = logging.getLogger(__name__)

REQUEST_BODY_CHARS = 64_000


@dataclass(frozen=True)
class ItemDraft:
    identifier: str
    label: str = ""
    original_reason: str = ""


def operation_start(
    *,
    provider: str,
    action: str,
    actor: AbstractBaseUser,
    reason: str,
    ticket: str,
    source: str,
    items: Sequence[ItemDraft],
    source_detail: dict | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    idempotency_key: str | None = None,
) -> tuple[Operation, bool]:
    """Record an operation and its items before anything is sent.

    Returns ``(operation, created)``. When ``idempotency_key`` was already used, returns the
    existing operation with ``created=False`` and writes nothing: the caller must not send.
    """
    if idempotency_key:
        existing = Operation.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            operation = Operation.objects.create(
                provider=provider,
                action=action,
                actor=actor,
                actor_username=actor.get_username(),
                reason=reason,
                ticket=ticket,
                source=source,
                source_detail=source_detail or {},
                client_ip=client_ip or None,
                user_agent=user_agent[:500],
                idempotency_key=idempotency_key or None,
            )
            OperationItem.objects.bulk_create(
                [
                    OperationItem(
                        operation=operation,
                        position=position,
                        identifier=item.identifier,
                        label=item.label,
                        original_reason=item.original_reason,
                    )
                    for position, item in enumerate(items)
                ],
                batch_size=1000,
            )
    except IntegrityError:
        # Two submits of one form raced: the other one won and owns the operation.
        existing = Operation.objects.filter(idempotency_key=idempotency_key).first()
        if idempotency_key and existing is not None:
            return existing, False
        raise
    return operation, True


def operation_add_items(
    operation: Operation, identifiers: Iterable[str], *, first_position: int = 0
) -> int:
    """Record the items of a large operation (e.g. a bulk removal) by identifier.

    Must still happen before any provider call that concerns them. Returns how many.
    """
    rows = (
        (position, identifier, ItemOutcome.PENDING.value, "")
        for position, identifier in enumerate(identifiers, start=first_position)
    )
    return _insert_items(operation, rows)


def operation_add_invalid_items(
    operation: Operation, rejected: Iterable[tuple[str, str]], *, first_position: int
) -> int:
    """Record (value, why) pairs that were refused before anything was sent, as invalid."""
    rows = (
        (position, value[:320], ItemOutcome.INVALID.value, detail)
        for position, (value, detail) in enumerate(rejected, start=first_position)
    )
    return _insert_items(operation, rows)


ITEM_COLUMNS = "operation_id, position, identifier, label, original_reason, outcome, detail"


def _insert_items(operation: Operation, rows: Iterator[tuple[int, str, str, str]]) -> int:
    # Not through model instances: a million rows that way would take minutes. PostgreSQL
    # takes them fastest by COPY (several times faster than INSERTs, even pipelined).
    table = connection.ops.quote_name(OperationItem._meta.db_table)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({ITEM_COLUMNS}) FROM STDIN") as copy:
                for position, identifier, outcome, detail in rows:
                    copy.write_row((operation.pk, position, identifier, "", "", outcome, detail))
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({ITEM_COLUMNS}) VALUES (%s, %s, %s, '', '', %s, %s)"  # noqa: S608 - a quoted table name, values are parameters
        while batch := [(operation.pk, *row) for row in islice(rows, 5000)]:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def operation_mark_started(operation: Operation) -> None:
    operation.status = OperationStatus.IN_PROGRESS
    operation.started_at = timezone.now()
    operation.save(update_fields=["status", "started_at"])


def items_set_outcome(
    items: Iterable[OperationItem],
    outcome: str,
    detail: str,
    *,
    call: ProviderCall | None = None,
) -> None:
    """Record the outcome of some items (one UPDATE), keeping the in-memory objects in step."""
    items = list(items)
    for item in items:
        item.outcome = outcome
        item.detail = detail
        if call is not None:
            item.call = call
    fields = ["outcome", "detail"] + (["call"] if call is not None else [])
    OperationItem.objects.bulk_update(items, fields, batch_size=1000)


def operation_finish(
    operation: Operation, *, summary: str = "", outcome_counts: Mapping[str, int] | None = None
) -> Operation:
    """Derive the operation's status from its items' outcomes and close it.

    A caller that keeps a tally of the outcomes as it records them (a bulk job, whose
    hundreds of thousands of items would take a while to count again) passes it.
    """
    if outcome_counts is None:
        outcome_counts = dict(
            operation.items.order_by()
            .values_list("outcome")
            .annotate(n=Count("pk"))
            .values_list("outcome", "n")
        )
    operation.status = status_from_outcomes(outcome_counts)
    operation.summary = summary or summarise(outcome_counts)
    operation.finished_at = timezone.now()
    operation.save(update_fields=["status", "summary", "finished_at"])
    return operation


def operation_mark_interrupted(operation: Operation, error: BaseException) -> None:
    """Say, in the record, that our own process failed midway. Never raises."""
    try:
        pending = operation.items.filter(outcome=ItemOutcome.PENDING)
        pending.update(
            outcome=ItemOutcome.UNKNOWN,
            detail="The operation stopped before this item's outcome was recorded.",
        )
        operation.status = OperationStatus.INTERRUPTED
        operation.summary = (
            f"Stopped midway by an internal error ({type(error).__name__}). "
            "Items marked unknown may or may not have been applied by the provider."
        )
        operation.finished_at = timezone.now()
        operation.save(update_fields=["status", "summary", "finished_at"])
    except Exception:
        logger.exception("Could not mark operation %s as interrupted", operation.pk)


def status_from_outcomes(counts: Mapping[str, int]) -> str:
    """The operation's status from how many of its items ended with each outcome."""
    # Rows refused before sending (invalid addresses) say nothing about what the provider did.
    outcomes = {outcome for outcome, n in counts.items() if n and outcome != ItemOutcome.INVALID}
    if outcomes and outcomes <= DONE_OUTCOMES:
        return OperationStatus.SUCCEEDED
    if outcomes & {ItemOutcome.UNKNOWN, ItemOutcome.PENDING}:
        return OperationStatus.UNKNOWN
    if outcomes & DONE_OUTCOMES:
        return OperationStatus.PARTIAL
    return OperationStatus.FAILED


def summarise(counts: Mapping[str, int]) -> str:
    parts = [
        f"{counts[value]} {label.lower()}"
        for value, label in ItemOutcome.choices
        if counts.get(value)
    ]
    return f"{sum(counts.values())} requested: " + ", ".join(parts) + "."


class CallRefused(Exception):
    """The condition given to AuditCallLog.started held: no row, and no request."""


def _insert_unless(call: ProviderCall, unless: QuerySet) -> bool:
    """INSERT the call's row unless ``unless`` finds a row: one statement, one round trip.

    Django's ORM has no conditional insert; this writes the row as ``save()`` would (the
    fields' own conversions to database values, on the default database; no model signals,
    none are used), as INSERT ... SELECT ... WHERE NOT EXISTS.
    """
    sql, condition_params = _insert_unless_sql(unless)
    values = [
        field.get_db_prep_save(field.pre_save(call, True), connection) for field in _CALL_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *condition_params])
        row = cursor.fetchone()
    if row is None:
        return False
    call.pk = row[0]
    call._state.adding = False
    call._state.db = connection.alias
    return True


_CALL_FIELDS = [field for field in ProviderCall._meta.concrete_fields if not field.primary_key]


@lru_cache(maxsize=32)
def _insert_unless_sql(unless: QuerySet) -> tuple[str, tuple]:
    # Built once per condition: it runs between an answer and the next request.
    condition, condition_params = unless.order_by().values("pk").query.sql_with_params()
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(ProviderCall._meta.db_table)} "
        f"({', '.join(quote(field.column) for field in _CALL_FIELDS)}) "
        f"SELECT {', '.join(['%s'] * len(_CALL_FIELDS))} WHERE NOT EXISTS ({condition}) "
        f"RETURNING {quote(ProviderCall._meta.pk.column)}"
    )
    return sql, tuple(condition_params)


class AuditCallLog:
    """A providers.base.CallLog that writes one ProviderCall row per HTTP request.

    ``started`` commits the row before the request is sent; ``finished`` fills in the answer.
    Set ``purpose`` before each client call to say why the request is made, and ``batch``
    when a bulk operation sends its items in batches.
    """

    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        self.purpose = ""
        self.batch: int | None = None
        self.last_call: ProviderCall | None = None
        self._sequence: int | None = None

    def resync(self) -> None:
        """Read the latest sequence again (another process may have continued the operation).

        Calls of one operation never race: they go one at a time per provider key, so a
        holder of the key's lock may count on from here.
        """
        latest = ProviderCall.objects.filter(operation=self.operation).aggregate(n=Max("sequence"))
        self._sequence = latest["n"] or 0

    def started(
        self,
        *,
        method: str,
        path: str,
        item_count: int,
        body: str,
        unless: QuerySet | None = None,
    ) -> ProviderCall:
        """Commit the call's row; with ``unless``, only if that query finds nothing.

        ``unless`` is decided in the statement that writes the row, so nothing can change
        in between (a removal job passes "the job was cancelled"). Raises CallRefused when
        it finds something: then nothing is written and the request must not be sent.
        """
        if self._sequence is None:
            self.resync()
        self._sequence += 1
        call = ProviderCall(
            operation=self.operation,
            sequence=self._sequence,
            purpose=self.purpose,
            batch=self.batch,
            method=method,
            path=path,
            item_count=item_count,
            request_body=body[:REQUEST_BODY_CHARS],
        )
        if unless is None:
            call.save(force_insert=True)
        elif not _insert_unless(call, unless):
            self._sequence -= 1  # nothing written: the number is still free
            raise CallRefused
        self.last_call = call
        return call

    def finished(
        self,
        handle: object,
        *,
        status: int | None,
        answer_excerpt: str,
        error: str,
        duration_ms: int,
    ) -> None:
        assert isinstance(handle, ProviderCall)
        handle.status_code = status
        handle.answer_excerpt = answer_excerpt
        handle.error = error
        handle.duration_ms = duration_ms
        handle.finished_at = handle.started_at + timedelta(milliseconds=duration_ms)
        handle.save(
            update_fields=["status_code", "answer_excerpt", "error", "duration_ms", "finished_at"]
        )
