"""Reading operations with their items and calls for an export, in flat memory.

An export may cover one operation of a million items or a hundred thousand operations of a
few each. Small operations are read together, a batch of operations per query, so the
number of queries does not grow with the number of operations; an operation bigger than a
batch is streamed on its own. Either way at most about ``BATCH_ROWS`` rows are held at once,
whatever the size of the export (operations carry their counts, so the batches are planned
before reading).
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from suppression_admin.audit.models import Operation, OperationItem, ProviderCall

BATCH_ROWS = 10_000
BATCH_OPERATIONS = 500
STREAM_CHUNK = 2_000

ITEM_VALUES = ("identifier", "label", "original_reason", "outcome", "detail")
CALL_VALUES = (
    "method",
    "path",
    "status_code",
    "item_count",
    "started_at",
    "duration_ms",
)


@dataclass
class Rows:
    """An operation, its items (tuples of ITEM_VALUES) and, when asked for, its calls (tuples
    of CALL_VALUES). Read the items before the calls, and both before the next operation."""

    operation: Operation
    items: Iterable[tuple]
    calls: Iterable[tuple]


def operation_rows(
    operations: Iterable[Operation],
    *,
    items: QuerySet[OperationItem] | None = None,
    calls: bool = False,
) -> Iterator[Rows]:
    """Each operation with its items by position (only those in ``items``, when given)."""
    items = OperationItem.objects.all() if items is None else items
    batch: list[Operation] = []
    planned = 0
    for operation in operations:
        size = operation.item_total + (operation.call_total if calls else 0)
        if size > BATCH_ROWS:
            yield from _read_together(batch, items, calls)
            batch, planned = [], 0
            yield _streamed(operation, items, calls)
            continue
        batch.append(operation)
        planned += size
        if planned >= BATCH_ROWS or len(batch) >= BATCH_OPERATIONS:
            yield from _read_together(batch, items, calls)
            batch, planned = [], 0
    yield from _read_together(batch, items, calls)


def _streamed(operation: Operation, items: QuerySet[OperationItem], calls: bool) -> Rows:
    own_items = items.filter(operation_id=operation.pk).order_by("position")
    own_calls = ProviderCall.objects.filter(operation_id=operation.pk).order_by("sequence")
    return Rows(
        operation,
        own_items.values_list(*ITEM_VALUES).iterator(chunk_size=STREAM_CHUNK),
        own_calls.values_list(*CALL_VALUES).iterator(chunk_size=STREAM_CHUNK) if calls else (),
    )


def _read_together(
    batch: list[Operation], items: QuerySet[OperationItem], calls: bool
) -> Iterator[Rows]:
    if not batch:
        return
    ids = [operation.pk for operation in batch]
    items_of = _grouped(
        items.filter(operation_id__in=ids).order_by("operation_id", "position"), ITEM_VALUES
    )
    calls_of = (
        _grouped(
            ProviderCall.objects.filter(operation_id__in=ids).order_by("operation_id", "sequence"),
            CALL_VALUES,
        )
        if calls
        else {}
    )
    for operation in batch:
        yield Rows(operation, items_of.get(operation.pk, ()), calls_of.get(operation.pk, ()))


def _grouped(rows: QuerySet, values: tuple[str, ...]) -> dict[int, list[tuple]]:
    grouped: dict[int, list[tuple]] = defaultdict(list)
    for operation_id, *row in rows.values_list("operation_id", *values):
        grouped[operation_id].append(tuple(row))
    return grouped
