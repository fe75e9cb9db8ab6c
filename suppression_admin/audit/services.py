"""Writing the audit log, ahead of every provider call.

Why nothing here runs inside the provider call's transaction: each write is committed on
its own (autocommit) *before* the request it describes goes out, so a crash, a rollback or
a killed process can never erase the evidence that a request was sent. The worst a crash
can leave is a record that says "sent, no answer recorded" — never silence.
"""

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from suppression_admin.audit.chain import ItemsDigest, operation_seal
from suppression_admin.audit.identifiers import item_search_key, ticket_key
from suppression_admin.audit.models import (
    DONE_OUTCOMES,
    AccessRecord,
    ItemOutcome,
    Operation,
    OperationEvent,
    OperationItem,
    OperationStatus,
    ProviderCall,
)
from suppression_admin.audit.redaction import redact

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
                ticket_key=ticket_key(ticket),
                source=source,
                source_detail=source_detail or {},
                client_ip=client_ip or None,
                user_agent=user_agent[:500],
                idempotency_key=idempotency_key or None,
                item_total=len(items),
            )
            OperationItem.objects.bulk_create(
                [
                    OperationItem(
                        operation=operation,
                        position=position,
                        identifier=item.identifier,
                        label=item.label,
                        search_key=item_search_key(item.identifier, item.label),
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
    operation: Operation,
    identifiers: Iterable[str],
    *,
    first_position: int = 0,
    outcome: str = ItemOutcome.PENDING,
    detail: str = "",
) -> int:
    """Record the items of a large operation (e.g. a bulk removal) by identifier.

    Must still happen before any provider call that concerns them. Returns how many.
    """
    rows = (
        (position, identifier, str(outcome), detail)
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


ITEM_COLUMNS = (
    "operation_id, position, identifier, search_key, label, original_reason, outcome, detail"
)


def _insert_items(operation: Operation, rows: Iterator[tuple[int, str, str, str]]) -> int:
    """Insert (position, identifier, outcome, detail) rows and count them on the operation."""
    count = _insert_item_rows(
        (operation.pk, position, identifier, item_search_key(identifier), "", "", outcome, detail)
        for position, identifier, outcome, detail in rows
    )
    operation_count(operation.pk, items=count)
    return count


def _insert_item_rows(rows: Iterator[tuple]) -> int:
    """Insert rows of ITEM_COLUMNS' values."""
    # Not through model instances: a million rows that way would take minutes. PostgreSQL
    # takes them fastest by COPY (several times faster than INSERTs, even pipelined).
    table = connection.ops.quote_name(OperationItem._meta.db_table)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({ITEM_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = f"INSERT INTO {table} ({ITEM_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"  # noqa: S608 - a quoted table name, values are parameters
        while batch := list(islice(rows, 5000)):
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def operation_count(operation_id: int, *, items: int = 0, done: int = 0, calls: int = 0) -> None:
    """Add to an operation's stored counts as its work proceeds (one UPDATE, in the caller's
    transaction): items written, items done, provider calls."""
    changes = {
        field: F(field) + n
        for field, n in (("item_total", items), ("item_done", done), ("call_total", calls))
        if n
    }
    if changes:
        Operation.objects.filter(pk=operation_id).update(**changes)


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
    if outcome in DONE_OUTCOMES:
        for operation_id, n in Counter(item.operation_id for item in items).items():
            operation_count(operation_id, done=n)


def operation_finish(
    operation: Operation,
    *,
    summary: str = "",
    outcome_counts: Mapping[str, int] | None = None,
    status: str | None = None,
    items: ItemsDigest | None = None,
) -> Operation:
    """Close the operation, its status derived from its items' outcomes unless given, and
    seal it into the audit's hash chain.

    A caller that keeps a tally of the outcomes as it records them (a bulk job, whose
    hundreds of thousands of items would take a while to count again) passes it, and the
    items' digest taken before its transaction (``items_digest``).
    """
    if outcome_counts is None:
        outcome_counts = dict(
            operation.items.order_by()
            .values_list("outcome")
            .annotate(n=Count("pk"))
            .values_list("outcome", "n")
        )
    operation.status = status or status_from_outcomes(outcome_counts)
    operation.summary = summary or summarise(outcome_counts)
    operation.finished_at = timezone.now()
    # The final counts, exact whatever path the work took: stored with the finish, they can
    # never change again (the database refuses it).
    operation.outcome_counts = {outcome: n for outcome, n in outcome_counts.items() if n}
    operation.item_total = sum(outcome_counts.values())
    operation.item_done = sum(n for o, n in outcome_counts.items() if o in DONE_OUTCOMES)
    with transaction.atomic():
        operation.call_total = ProviderCall.objects.filter(operation=operation).count()
        operation.save(update_fields=[*FINISH_FIELDS])
        operation_seal(operation, items=items)
    return operation


FINISH_FIELDS = (
    "status",
    "summary",
    "finished_at",
    "outcome_counts",
    "item_total",
    "item_done",
    "call_total",
)


def operation_event(
    operation: Operation,
    kind: str,
    *,
    actor: AbstractBaseUser | None = None,
    detail: str = "",
) -> OperationEvent:
    """Append what happened to the operation's job (``actor``: a person, or None for a worker)."""
    return OperationEvent.objects.create(
        operation=operation,
        kind=kind,
        actor=actor,
        actor_username=actor.get_username() if actor is not None else "",
        detail=detail,
    )


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
        self._kept: set[int] = set()

    def resync(self) -> None:
        """Read the latest sequence again (another process may have continued the operation).

        Calls of one operation never race: they go one at a time per provider key, so a
        holder of the key's lock may count on from here.
        """
        latest = ProviderCall.objects.filter(operation=self.operation).aggregate(n=Max("sequence"))
        self._sequence = latest["n"] or 0

    def started(self, *, method: str, path: str, item_count: int, body: str) -> ProviderCall:
        """Write the call's row, before its request is sent (committed, unless the caller
        writes it inside its own transaction, which then commits before sending)."""
        if self._sequence is None:
            self.resync()
        self._sequence += 1
        call = ProviderCall.objects.create(
            operation=self.operation,
            sequence=self._sequence,
            purpose=self.purpose,
            batch=self.batch,
            method=method,
            path=redact(path),
            item_count=item_count,
            request_body=redact(body)[:REQUEST_BODY_CHARS],
        )
        operation_count(self.operation.pk, calls=1)
        self.last_call = call
        return call

    def keep_answer(self, call: ProviderCall) -> None:
        """The caller records this call's answer itself, in its own next transaction (a
        job, with the outcomes the answer decides). A crash's note is still written at once."""
        self._kept.add(call.pk)

    def finished(
        self,
        handle: object,
        *,
        status: int | None,
        answer_excerpt: str,
        error: str,
        sent_at: datetime,
        duration_ms: int,
    ) -> None:
        """Record the answer, with the times observed: sent, and answer (or error) in."""
        assert isinstance(handle, ProviderCall)
        handle.status_code = status
        handle.answer_excerpt = redact(answer_excerpt)
        handle.error = redact(error)
        handle.started_at = sent_at
        handle.duration_ms = duration_ms
        handle.finished_at = sent_at + timedelta(milliseconds=duration_ms)
        kept = handle.pk in self._kept
        self._kept.discard(handle.pk)
        if not kept or error.startswith("Interrupted"):
            call_save_answer(handle)


ANSWER_FIELDS = [
    "status_code",
    "answer_excerpt",
    "error",
    "started_at",
    "duration_ms",
    "finished_at",
]


def call_save_answer(call: ProviderCall) -> None:
    """Write a call's answer, as AuditCallLog.finished filled it in. Once: an answer already
    written stays as it is (the database refuses to change it anyway)."""
    ProviderCall.objects.filter(
        pk=call.pk, finished_at__isnull=True, status_code__isnull=True
    ).update(**{field: getattr(call, field) for field in ANSWER_FIELDS})


def access_record(
    kind: str,
    detail: dict,
    *,
    actor: AbstractBaseUser | None = None,
    actor_username: str = "",
    client_ip: str | None = None,
) -> AccessRecord:
    """Record that personal data is about to be seen in bulk, before it is sent: who (a
    person, or ``actor_username`` for a command), what (``detail``) and from where."""
    return AccessRecord.objects.create(
        kind=kind,
        detail=detail,
        actor=actor,
        actor_username=actor.get_username() if actor is not None else actor_username,
        client_ip=client_ip,
    )
