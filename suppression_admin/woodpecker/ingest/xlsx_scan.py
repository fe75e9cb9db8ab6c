"""Proving a workbook within bounds by streaming its XML, before openpyxl parses any of it.

openpyxl's read-only mode streams rows, but it first loads every shared string into a list,
and it holds each element's text whole while parsing it. So an 18 MB file can hold seven
million distinct strings (over a gigabyte once loaded) and a 9 MB one a single 150 MB cell.
This scan reads every XML part of the archive with expat, feeding it in chunks and keeping
nothing but counters, and refuses the workbook — naming the limit — as soon as a count
passes it:

* shared strings: how many, and their total length;
* the length of any one cell (all its runs of rich text together), or of any run of text;
* the column a cell is in, and the row number a row claims;
* the cells openpyxl will hand over: it pads each row out to its last cell, so a row whose
  only cell is in column ALL is a thousand cells.

Every part that looks like XML is scanned, whatever its name (openpyxl finds its parts by
the names the workbook's relationships give, which need not end in .xml); the others are
images and the like, which openpyxl does not parse. The uncompressed size of the parts has
been bounded already (``check_workbook_zip``), so the time this takes is bounded too. A
document type declaration is refused: workbooks never carry one, and it is how XML entity
bombs are made.
"""

import zipfile
from dataclasses import dataclass
from typing import IO
from xml.parsers import expat

from .errors import (
    XLSX_CELL_TOO_LONG,
    XLSX_DAMAGED,
    XLSX_SHARED_STRINGS_TOO_LARGE,
    XLSX_TOO_MANY_CELLS,
    XLSX_TOO_MANY_COLUMNS,
    XLSX_TOO_MANY_SHARED_STRINGS,
    IngestRefused,
)

_FEED_BYTES = 1024 * 1024
# Excel's own limits: a sheet has at most this many rows, a cell at most this many characters.
EXCEL_MAX_ROW = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
_DIGITS = "0123456789"


@dataclass(frozen=True)
class WorkbookLimits:
    """Bounds on what a workbook may hold; see the module docstring."""

    # Peak memory for a workbook at these bounds is measured by bench/ingest_memory_bench.py.
    max_shared_strings: int = 1_500_000
    max_shared_string_chars: int = 48 * 1024 * 1024
    max_cell_chars: int = EXCEL_MAX_CELL_CHARS
    max_columns: int = 1_000
    # A million rows of twenty columns; a sheet's padded rows count (see the module).
    max_cells: int = 20_000_000


def scan_workbook(archive: zipfile.ZipFile, limits: WorkbookLimits) -> None:
    """Raise ``IngestRefused`` naming the limit the workbook passes, if it passes one."""
    cells = 0
    for entry in archive.infolist():
        if entry.is_dir():
            continue
        with archive.open(entry) as part:
            if not _looks_like_xml(part.read(_XML_SNIFF_BYTES)):
                continue
        with archive.open(entry) as part:
            scan = _Scan(limits, cells)
            scan.scan(part)
            cells = scan.cells


_XML_SNIFF_BYTES = 64
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _looks_like_xml(start: bytes) -> bool:
    return start.startswith(_UTF16_BOMS) or start.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<"


def column_number(letters: str) -> int:
    """A column's number from its letters: A → 1, Z → 26, AA → 27, ALL → 1,000."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def column_letters(number: int) -> str:
    """The letters of column ``number`` (1 → A, 1,001 → ALM)."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


class _Scan:
    """One XML part's counts. Handlers see every element start and every run of text."""

    def __init__(self, limits: WorkbookLimits, cells: int) -> None:
        self.limits = limits
        self.run = 0  # characters since the last element started
        self.cell_chars = 0  # characters since the last cell (<c>, <si>, <is>) or row began
        self.strings = 0  # shared strings (<si>) seen
        self.string_chars = 0  # their characters, all told
        self.cells = cells  # cells openpyxl will hand over, in the parts scanned so far
        self.row_width = 0  # the current row's last column
        self.rows = 0
        # Columns with more letters than this cannot pass max_columns: check only those.
        self.column_letters = len(column_letters(limits.max_columns))

    def scan(self, part: IO[bytes]) -> None:
        parser = expat.ParserCreate()
        parser.StartElementHandler = self.start
        parser.CharacterDataHandler = self.text
        parser.StartDoctypeDeclHandler = self.doctype
        try:
            while chunk := part.read(_FEED_BYTES):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except IngestRefused:
            raise
        except (expat.ExpatError, ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            raise IngestRefused(XLSX_DAMAGED) from error

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self.run = 0
        local = name.rpartition(":")[2]
        if local == "c":
            self.cell_chars = 0
            self.cell(attributes.get("r", ""))
        elif local == "row":
            self.cell_chars = 0
            self.row(attributes.get("r", ""))
        elif local == "is":
            self.cell_chars = 0
        elif local == "si":
            self.strings += 1
            self.cell_chars = 0
            if self.strings > self.limits.max_shared_strings:
                raise IngestRefused(
                    XLSX_TOO_MANY_SHARED_STRINGS.format(limit=self.limits.max_shared_strings)
                )

    def text(self, data: str) -> None:
        self.run += len(data)
        self.cell_chars += len(data)
        if self.strings:
            self.string_chars += len(data)
            if self.string_chars > self.limits.max_shared_string_chars:
                raise IngestRefused(
                    XLSX_SHARED_STRINGS_TOO_LARGE.format(
                        limit=self.limits.max_shared_string_chars // (1024 * 1024)
                    )
                )
        if max(self.run, self.cell_chars) > self.limits.max_cell_chars:
            raise IngestRefused(XLSX_CELL_TOO_LONG.format(limit=self.limits.max_cell_chars))

    def cell(self, reference: str) -> None:
        letters = reference.rstrip(_DIGITS)
        if len(letters) == 1:
            column = ord(letters.upper()) - ord("A") + 1
        elif not letters:
            column = self.row_width + 1  # no reference: the next cell along
        elif len(letters) > self.column_letters:
            column = self.limits.max_columns + 1
        else:
            column = column_number(letters)
        if column > self.limits.max_columns:
            raise IngestRefused(
                XLSX_TOO_MANY_COLUMNS.format(
                    column=letters.upper()[:3], limit=self.limits.max_columns
                )
            )
        if column > self.row_width:
            self.cells += column - self.row_width
            self.row_width = column
            if self.cells > self.limits.max_cells:
                raise IngestRefused(XLSX_TOO_MANY_CELLS.format(limit=self.limits.max_cells))

    def row(self, number: str) -> None:
        self.row_width = 0
        self.rows += 1
        if self.rows > EXCEL_MAX_ROW:
            raise IngestRefused(XLSX_DAMAGED)
        if number and not (number.isdigit() and int(number) <= EXCEL_MAX_ROW):
            raise IngestRefused(XLSX_DAMAGED)

    def doctype(self, *args: object) -> None:
        raise IngestRefused(XLSX_DAMAGED)
