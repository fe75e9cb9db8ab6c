"""Checking and streaming an .xlsx workbook: the sheet with the addresses."""

import datetime
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

import openpyxl

from .addresses import clip
from .errors import (
    NO_EMAIL_COLUMN_ON_ANY_SHEET,
    NOT_A_SPREADSHEET,
    OPENDOCUMENT,
    SHEET_CHOICE_NEEDED,
    SHEET_OUT_OF_RANGE,
    XLSB,
    XLSX_DAMAGED,
    XLSX_NO_WORKSHEET,
    XLSX_SUSPICIOUS_COMPRESSION,
    XLSX_TOO_LARGE_UNPACKED,
    ColumnChoiceNeeded,
    IngestRefused,
    human_size,
)
from .table import email_column_candidates
from .xlsx_scan import WorkbookLimits, scan_workbook

# Entries that unpack to more than this are held to MAX_COMPRESSION_RATIO. Real workbooks
# compress 5-20 to 1; deflate bombs reach about 1000 to 1.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
MAX_COMPRESSION_RATIO = 100
SHEET_NAME_LENGTH = 80
_CONTENT_TYPES = "[Content_Types].xml"
_MAX_CONTENT_TYPES_BYTES = 1024 * 1024
_WORKBOOK_TYPES = (
    b"spreadsheetml.sheet.main+xml",
    b"spreadsheetml.template.main+xml",
    b"ms-excel.sheet.macroEnabled.main+xml",
    b"ms-excel.template.macroEnabled.main+xml",
)


def check_workbook_zip(
    data: BinaryIO, *, max_uncompressed_bytes: int, limits: WorkbookLimits
) -> None:
    """Refuse a zip that is not an xlsx workbook or could unpack to too much.

    Reads only the zip directory (and ``[Content_Types].xml``), before openpyxl opens
    anything: the declared uncompressed sizes must add up to at most
    ``max_uncompressed_bytes``, and no large entry may be compressed more than
    ``MAX_COMPRESSION_RATIO`` to 1. Declared sizes can be trusted as an upper bound because
    ``zipfile`` stops inflating an entry at its declared size (and then fails its CRC).
    Then every XML part is scanned against ``limits`` (see ``xlsx_scan``).
    """
    data.seek(0)
    try:
        with zipfile.ZipFile(data) as archive:
            entries = archive.infolist()
            total = sum(entry.file_size for entry in entries)
            packed = sum(entry.compress_size for entry in entries)
            if total > max_uncompressed_bytes:
                raise IngestRefused(
                    XLSX_TOO_LARGE_UNPACKED.format(
                        size=human_size(total, round_up=True),
                        limit=human_size(max_uncompressed_bytes, round_up=False),
                    )
                )
            # Each large entry, and all of them together (many entries just under the
            # threshold make a bomb too).
            for size, compressed in [
                (total, packed),
                *((e.file_size, e.compress_size) for e in entries),
            ]:
                ratio = size / max(compressed, 1)
                if size > RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
                    raise IngestRefused(XLSX_SUSPICIOUS_COMPRESSION.format(ratio=int(ratio)))
            _refuse_other_zips(archive)
            scan_workbook(archive, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise IngestRefused(XLSX_DAMAGED) from error
    finally:
        data.seek(0)


def _refuse_other_zips(archive: zipfile.ZipFile) -> None:
    names = set(archive.namelist())
    content_types = b""
    info = archive.NameToInfo.get(_CONTENT_TYPES)
    if info is not None and info.file_size <= _MAX_CONTENT_TYPES_BYTES:
        content_types = archive.read(info)
    if any(kind in content_types for kind in _WORKBOOK_TYPES):
        return
    if "xl/workbook.bin" in names:
        raise IngestRefused(XLSB)
    if "xl/workbook.xml" in names:
        return
    if "mimetype" in names and archive.getinfo("mimetype").file_size < 100:
        if archive.read("mimetype").startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            raise IngestRefused(OPENDOCUMENT)
        raise IngestRefused(NOT_A_SPREADSHEET.format(what="an OpenDocument file"))
    if "word/document.xml" in names:
        raise IngestRefused(NOT_A_SPREADSHEET.format(what="a Word document"))
    if "ppt/presentation.xml" in names:
        raise IngestRefused(NOT_A_SPREADSHEET.format(what="a PowerPoint presentation"))
    raise IngestRefused(NOT_A_SPREADSHEET.format(what="a ZIP archive"))


def cell_text(value: object) -> str:
    """A cell value as the text a person sees (near enough: numbers without a trailing .0)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


class Workbook:
    """An open xlsx workbook (read-only, cached values, no external links); close it after.

    ``choose_sheet`` decides which worksheet holds the addresses: the one the operator
    chose, the only one, or the only one with an email column. When several have one it
    asks (``ColumnChoiceNeeded`` listing every candidate column of every such sheet).
    """

    def __init__(self, data: BinaryIO) -> None:
        data.seek(0)
        try:
            with warnings.catch_warnings():
                # openpyxl warns about workbook features it drops (data validation, …);
                # only cell values matter here.
                warnings.simplefilter("ignore")
                self._book = openpyxl.load_workbook(
                    data, read_only=True, data_only=True, keep_links=False
                )
        except Exception as error:
            # Any failure inside a third-party parser fed an uploaded file means the same
            # thing to the operator.
            raise IngestRefused(XLSX_DAMAGED) from error
        self._sheets = self._book.worksheets
        if not self._sheets:
            self.close()
            raise IngestRefused(XLSX_NO_WORKSHEET)

    def sheet_name(self, sheet: int) -> str:
        return clip(self._sheets[sheet].title, SHEET_NAME_LENGTH)

    def choose_sheet(self, sheet: int | None) -> tuple[int, str]:
        """``(sheet, where)``: the 0-based worksheet to read and the words naming it."""
        count = len(self._sheets)
        if sheet is not None:
            if not 0 <= sheet < count:
                raise IngestRefused(SHEET_OUT_OF_RANGE.format(number=sheet + 1, count=count))
            return sheet, self._on(sheet)
        if count == 1:
            return 0, self._on(0)
        found = {
            index: candidates
            for index in range(count)
            if (candidates := email_column_candidates(self.records(index), where=self._on(index)))
        }
        if not found:
            raise IngestRefused(NO_EMAIL_COLUMN_ON_ANY_SHEET.format(count=count))
        if len(found) > 1:
            raise ColumnChoiceNeeded(
                [
                    replace(candidate, sheet=index)
                    for index, found_here in found.items()
                    for candidate in found_here
                ],
                message=SHEET_CHOICE_NEEDED.format(
                    sheets=", ".join(f"“{self.sheet_name(index)}”" for index in found)
                ),
            )
        (index,) = found
        others = count - 1
        sheets = "sheet" if others == 1 else "sheets"
        return index, self._on(index) + f" (the {others:,} other {sheets} hold no email column)"

    def _on(self, sheet: int) -> str:
        return f' on sheet "{self.sheet_name(sheet)}"'

    def records(self, sheet: int) -> Iterator[list[str]]:
        """The rows of worksheet ``sheet``, record n being spreadsheet row n."""
        worksheet = self._sheets[sheet]
        # The <dimension> a sheet declares can be wrong (and openpyxl would stop at it, or
        # pad up to it); ignore it and read the rows that are there. openpyxl fills in rows
        # missing from the XML, so numbering stays right.
        worksheet.reset_dimensions()
        try:
            for row in worksheet.iter_rows(values_only=True):
                yield [cell_text(value) for value in row]
        except Exception as error:
            raise IngestRefused(XLSX_DAMAGED) from error

    def close(self) -> None:
        self._book.close()
