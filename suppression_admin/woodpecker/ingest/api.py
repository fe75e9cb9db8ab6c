"""The two ways in: an uploaded file, or addresses pasted in a text box."""

import csv
import re
from dataclasses import replace
from typing import BinaryIO

from .addresses import TRIM_CHARS, Tally
from .csv_source import CsvRecords, open_text
from .detect import HEAD_BYTES, ZIP, decode_head, detect_delimiter, detect_kind
from .errors import (
    CSV_UNREADABLE,
    EMPTY_FILE,
    EMPTY_SHEET,
    FILE_TOO_LARGE,
    PASTED_EMPTY,
    PASTED_TOO_LARGE,
    PASTED_TOO_MANY,
    TOO_MANY_ROWS,
    ColumnChoiceNeeded,
    IngestRefused,
    human_size,
)
from .result import (
    CHECKING,
    FINDING_SHEET,
    OPENING,
    IngestResult,
    Limits,
    Progress,
    no_progress,
)
from .table import tally_records
from .xlsx_source import Workbook, check_workbook_zip

_DEFAULT_LIMITS = Limits()
_PASTED_ENTRY_SEPARATORS = re.compile(r"[,;]")
_PASTED_WORD_SEPARATORS = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
# "Bob Smith <bob@example.com>", as mail programs copy addresses.
_PASTED_NAMED_ADDRESS = re.compile(r"[^<>@]*(<[^<>]*@[^<>]*>)")


def ingest_upload(
    data: BinaryIO,
    *,
    filename: str,
    limits: Limits = _DEFAULT_LIMITS,
    column: int | None = None,
    sheet: int | None = None,
    progress: Progress = no_progress,
) -> IngestResult:
    """Read the email addresses out of an uploaded CSV or xlsx file.

    ``data`` is a seekable binary file (an UploadedFile, an open file, a BytesIO); it is
    read in chunks and never closed. The kind of file is decided by its content, not by
    ``filename`` (which only words the message for an old-style Office file). ``column``
    is the 0-based column the operator chose after ``ColumnChoiceNeeded`` (and ``sheet``
    the 0-based worksheet of a workbook); None detects it. ``progress`` hears what is
    being done and how many rows are read (see ``result.Progress``).

    CSV text is read as UTF-8, or as UTF-8/UTF-16 when a byte-order mark says so. When the
    UTF-8 reading fails anywhere, the whole file is read again as Windows-1252. Bytes that
    cannot be decoded (the five Windows-1252 leaves undefined, broken sequences after a
    byte-order mark) become U+FFFD, and a row whose address holds one is reported as
    unreadable, never altered. Delimiter, header and column rules: see ``detect_delimiter`` and the
    ``table`` module. A workbook is scanned against ``limits.workbook`` before it is parsed
    (``xlsx_scan``), and one worksheet is read: see ``Workbook.choose_sheet``.

    Raises ``IngestRefused`` (``ColumnChoiceNeeded`` being one kind) when the file cannot
    be used at all: empty, header only, no email column, not a spreadsheet, too large, too
    many rows, an xlsx that would unpack to too much, and so on. Otherwise every data row is
    in the result exactly once (see ``IngestResult``).
    """
    size = _size(data)
    if size == 0:
        raise IngestRefused(EMPTY_FILE)
    if size > limits.max_bytes:
        raise IngestRefused(
            FILE_TOO_LARGE.format(
                size=human_size(size, round_up=True),
                limit=human_size(limits.max_bytes, round_up=False),
            )
        )
    data.seek(0)
    head = data.read(HEAD_BYTES)
    data.seek(0)
    complete = len(head) >= size
    kind = detect_kind(head, complete=complete, filename=filename)
    if kind == ZIP:
        return _ingest_workbook(data, limits=limits, column=column, sheet=sheet, progress=progress)
    if kind == "utf-8":
        try:
            return _ingest_text(
                data, head, complete, "utf-8", limits=limits, column=column, progress=progress
            )
        except UnicodeDecodeError:
            # The head was UTF-8, a later part is not: start again as Windows-1252.
            kind = "cp1252"
    return _ingest_text(data, head, complete, kind, limits=limits, column=column, progress=progress)


def _size(data: BinaryIO) -> int:
    # Seeking to the end measures the file without reading it.
    data.seek(0, 2)
    size = data.tell()
    data.seek(0)
    return size


def _ingest_text(
    data: BinaryIO,
    head: bytes,
    complete: bool,
    encoding: str,
    *,
    limits: Limits,
    column: int | None,
    progress: Progress,
) -> IngestResult:
    """Read ``data`` as CSV text in ``encoding``; UTF-8 strictly, others replacing errors.

    Raises ``UnicodeDecodeError`` only for "utf-8" (the caller retries as cp1252).
    """
    delimiter = detect_delimiter(decode_head(head, encoding, complete=complete), complete=complete)
    errors = "strict" if encoding == "utf-8" else "replace"
    with open_text(data, encoding, errors) as text:
        records = CsvRecords(text, delimiter)
        try:
            tally, label, has_header = tally_records(
                iter(records),
                column=column,
                max_rows=limits.max_rows,
                too_many_message=TOO_MANY_ROWS.format(limit=limits.max_rows),
                check_mixed_encoding=encoding == "cp1252",
                progress=progress,
            )
        except csv.Error as error:
            raise IngestRefused(CSV_UNREADABLE.format(line=records.line, problem=error)) from error
    return tally.result(
        column_label=label,
        encoding=encoding,
        delimiter=delimiter,
        has_header=has_header,
    )


def _ingest_workbook(
    data: BinaryIO, *, limits: Limits, column: int | None, sheet: int | None, progress: Progress
) -> IngestResult:
    progress(CHECKING, 0)
    check_workbook_zip(
        data, max_uncompressed_bytes=limits.max_xlsx_uncompressed_bytes, limits=limits.workbook
    )
    progress(OPENING, 0)
    book = Workbook(data)
    try:
        if sheet is None:
            progress(FINDING_SHEET, 0)
        sheet, where = book.choose_sheet(sheet)
        tally, label, has_header = _tally_sheet(book, sheet, where, limits, column, progress)
    finally:
        book.close()
    return tally.result(
        column_label=label,
        encoding="xlsx",
        delimiter=None,
        has_header=has_header,
    )


def _tally_sheet(
    book: Workbook,
    sheet: int,
    where: str,
    limits: Limits,
    column: int | None,
    progress: Progress,
) -> tuple[Tally, str, bool]:
    try:
        return tally_records(
            book.records(sheet),
            column=column,
            max_rows=limits.max_rows,
            too_many_message=TOO_MANY_ROWS.format(limit=limits.max_rows),
            empty_message=EMPTY_SHEET.format(sheet=book.sheet_name(sheet)),
            where=where,
            progress=progress,
        )
    except ColumnChoiceNeeded as choice:
        # Several columns on this sheet: the answer must come back to this sheet.
        raise ColumnChoiceNeeded(
            [replace(candidate, sheet=sheet) for candidate in choice.candidates], str(choice)
        ) from None


def ingest_pasted(text: str, *, limits: Limits = _DEFAULT_LIMITS) -> IngestResult:
    """Read the email addresses pasted in a text box.

    Each line holds one or more entries separated by commas, semicolons or whitespace; an
    entry may also be ``Name <address>``, as mail programs copy them. Every entry is one
    row of the result (so ``rows`` counts entries), numbered by its line. Blank lines and
    separators are not rows. There is no header.

    Raises ``IngestRefused`` when the text is over ``limits.max_bytes`` (UTF-8 encoded),
    holds more than ``limits.max_rows`` entries, or holds none.
    """
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise IngestRefused(
            PASTED_TOO_LARGE.format(
                size=human_size(size, round_up=True),
                limit=human_size(limits.max_bytes, round_up=False),
            )
        )
    tally = Tally(
        max_rows=limits.max_rows, too_many_message=PASTED_TOO_MANY.format(limit=limits.max_rows)
    )
    for line_number, line in enumerate(text.splitlines(), start=1):
        for entry in _PASTED_ENTRY_SEPARATORS.split(line):
            named = _PASTED_NAMED_ADDRESS.fullmatch(entry.strip(TRIM_CHARS))
            words = [named[1]] if named else _PASTED_WORD_SEPARATORS.split(entry)
            for word in words:
                if trimmed := word.strip(TRIM_CHARS):
                    tally.add(line_number, word, trimmed)
    if not tally.rows:
        raise IngestRefused(PASTED_EMPTY)
    return tally.result(
        column_label="pasted text",
        encoding="text",
        delimiter=None,
        has_header=False,
    )
