"""Plain-data views of audit records, for the JSONL export.

Stored codes (``succeeded``, ``unblocked``) rather than labels: the export is read by
programs, and labels may be reworded.

Each operation is one JSON object on one line, written item by item: an operation of a
million items is never held in memory, as a dict or as text.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from suppression_admin.audit.models import Operation, OperationItem
from suppression_admin.audit.streams import operation_rows


def jsonl_chunks(
    operations: Iterable[Operation], *, items: QuerySet[OperationItem] | None = None
) -> Iterator[str]:
    """Pieces of JSON Lines text: one line per operation (with only the items in ``items``,
    when given) and its calls; join them, or write them one after another."""
    for rows in operation_rows(operations, items=items, calls=True):
        head = _dumps(operation_facts(rows.operation))
        yield head[:-1] + ', "items": ['
        yield from _joined(
            {"identifier": identifier, "label": label, "outcome": outcome}
            for identifier, label, _reason, outcome, _detail in rows.items
        )
        yield '], "calls": ['
        yield from _joined(
            {
                "method": method,
                "path": path,
                "status": status,
                "item_count": item_count,
                "started_at": iso_utc(started_at),
                "duration_ms": duration_ms,
            }
            for method, path, status, item_count, started_at, duration_ms in rows.calls
        )
        yield "]}\n"


def _joined(objects: Iterable[dict[str, Any]]) -> Iterator[str]:
    separator = ""
    for value in objects:
        yield separator + _dumps(value)
        separator = ", "


# Legal in JSON, but line breaks to many readers (Python's str.splitlines, editors): one
# operation must stay one line.
LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _dumps(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    # (Looked for first: translating every item's text would double the export's time.)
    if "\u2028" in text or "\u2029" in text or "\x85" in text:
        return text.translate(LINE_BREAKS)
    return text


def operation_facts(operation: Operation) -> dict[str, Any]:
    """The operation's own facts (the export adds its items and calls)."""
    return {
        "id": operation.pk,
        "provider": operation.provider,
        "action": operation.action,
        "actor": operation.actor_username,
        "created_at": iso_utc(operation.created_at),
        "finished_at": iso_utc(operation.finished_at),
        "reason": operation.reason,
        "ticket": operation.ticket,
        "source": operation.source,
        "status": operation.status,
    }


def iso_utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
