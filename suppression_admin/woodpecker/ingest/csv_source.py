"""Streaming the records of a CSV (or plain one-column text) file."""

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

# csv's own limit (128 KB a field) would refuse a whole file for one long note; the file's
# size is bounded before it is read, and table.py reports a row with an over-long cell.
csv.field_size_limit(2**31 - 1)

# Stands in for "no delimiter" in a one-column file: a control character no one types, so
# every record is one cell (quotes still work).
NO_DELIMITER = "\x1f"
_READ_CHUNK = 64 * 1024
# Stripped from both ends of a one-column file's value: delimiters and white space.
STRAY = ",; \t\u00a0"


class _Unclosing(io.RawIOBase):
    """A read-only view of the caller's binary file that never closes it.

    ``io.TextIOWrapper`` closes the file under it when it is garbage-collected; wrapping
    this view instead leaves the caller's file (an UploadedFile, say) open and usable.
    """

    def __init__(self, data: BinaryIO) -> None:
        super().__init__()
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def open_text(data: BinaryIO, encoding: str, errors: str) -> io.TextIOWrapper:
    """``data`` from its start, decoded incrementally, line endings untouched (for ``csv``)."""
    data.seek(0)
    buffered = io.BufferedReader(_Unclosing(data), buffer_size=_READ_CHUNK)
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, newline="")


class CsvRecords:
    """The records of a text stream; ``line`` is the physical line reached, for messages.

    ``csv.reader`` joins quoted fields that span lines into one record, so record n is
    the n-th row a spreadsheet shows, whatever the line endings (CRLF, LF or CR).

    In a one-column file (``delimiter`` None) commas and semicolons at either end of a
    value are stray delimiters, not part of it: spreadsheet exports pad rows to the widest
    one ("ann@example.com,,"), and a column of addresses holds no others.
    """

    def __init__(self, text: io.TextIOWrapper, delimiter: str | None) -> None:
        self._reader = csv.reader(text, delimiter=delimiter or NO_DELIMITER, strict=False)
        self._one_column = delimiter is None

    def __iter__(self) -> Iterator[list[str]]:
        if not self._one_column:
            return self._reader
        return (
            [cell.strip(STRAY) if "," in cell or ";" in cell else cell for cell in record]
            for record in self._reader
        )

    @property
    def line(self) -> int:
        return self._reader.line_num
