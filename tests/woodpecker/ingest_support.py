"""Helpers for the ingest tests (no tests here): building files in memory, checking results."""

import io
import zipfile

import openpyxl

from suppression_admin.woodpecker.ingest import IngestResult, ingest_upload
from suppression_admin.woodpecker.ingest.addresses import normalise


def ingest(data: bytes, *, filename: str = "contacts.csv", **kwargs) -> IngestResult:
    result = ingest_upload(io.BytesIO(data), filename=filename, **kwargs)
    assert_accounted(result)
    return result


def assert_accounted(result: IngestResult) -> None:
    """The invariants every result obeys."""
    assert result.rows == len(result.valid) + len(result.invalid) + len(result.duplicates)
    assert len(set(result.valid)) == len(result.valid)
    rows = [item.row for item in result.invalid + result.duplicates]
    assert len(set(rows)) == len(rows) or result.encoding == "text"
    for duplicate in result.duplicates:
        if len(duplicate.value) < 320:  # longer values are clipped for reporting
            assert normalise(duplicate.value) in result.valid


def reasons(result: IngestResult) -> dict[int, str]:
    return {item.row: item.reason for item in result.invalid + result.duplicates}


def xlsx_bytes(
    rows: list[list[object]], *, sheet: str = "Contacts", extra_sheets: tuple[str, ...] = ()
) -> bytes:
    book = openpyxl.Workbook()
    worksheet = book.active
    worksheet.title = sheet
    for row in rows:
        worksheet.append(row)
    for name in extra_sheets:
        book.create_sheet(name).append(["other-sheet@example.com"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    """An .xlsx with these sheets, in this order, each holding its rows."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def declare_uncompressed_size(data: bytes, name: str, size: int) -> bytes:
    """``data`` (a zip) with the central directory claiming ``name`` unpacks to ``size``."""
    patched = bytearray(data)
    position = 0
    while (position := patched.find(b"PK\x01\x02", position)) != -1:
        name_length = int.from_bytes(patched[position + 28 : position + 30], "little")
        if patched[position + 46 : position + 46 + name_length] == name.encode():
            patched[position + 24 : position + 28] = size.to_bytes(4, "little")
            return bytes(patched)
        position += 4
    raise AssertionError(f"{name} is not in the zip")


class CountingBytesIO(io.BytesIO):
    """A BytesIO that counts the bytes read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data
