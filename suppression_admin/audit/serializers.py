"""Plain-data views of audit records, for the JSONL export.

Stored codes (``succeeded``, ``unblocked``) rather than labels: the export is read by
programs, and labels may be reworded.
"""

from datetime import UTC, datetime
from typing import Any

from suppression_admin.audit.models import Operation


def operation_to_dict(operation: Operation) -> dict[str, Any]:
    """The operation with its items and calls; both must be prefetched (see selectors)."""
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
        "items": [
            {"identifier": item.identifier, "label": item.label, "outcome": item.outcome}
            for item in operation.items.all()
        ],
        "calls": [
            {
                "method": call.method,
                "path": call.path,
                "status": call.status_code,
                "item_count": call.item_count,
                "started_at": iso_utc(call.started_at),
                "duration_ms": call.duration_ms,
            }
            for call in operation.calls.all()
        ],
    }


def iso_utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
