"""Excel uploads: detection by content, the first sheet, zip-bomb refusals."""

import io
import zipfile

import openpyxl
import pytest

from suppression_admin.woodpecker.ingest import IngestRefused, Limits, UnusedRow
from suppression_admin.woodpecker.ingest.addresses import REASON_EMPTY, REASON_INVALID
from suppression_admin.woodpecker.ingest.errors import (
    EMPTY_SHEET,
    NOT_A_SPREADSHEET,
    OPENDOCUMENT,
    XLSX_DAMAGED,
    XLSX_SUSPICIOUS_COMPRESSION,
)

from .ingest_support import (
    declare_uncompressed_size,
    ingest,
    xlsx_bytes,
    zip_bytes,
)

ROWS = [
    ["Name", "E-mail", "Score"],
    ["Ann", "Ann@Example.com ", 1.0],
    ["Bob", "bob@@example.com", 2.5],
    ["Cy", None, 3],
    ["Dee", "ann@example.com", None],
]


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(IngestRefused) as caught:
        ingest(data, filename="contacts.xlsx", **kwargs)
    return caught.value.message


def test_ingest_xlsx_reads_the_first_sheet():
    result = ingest(xlsx_bytes(ROWS), filename="contacts.xlsx")

    assert (result.encoding, result.delimiter, result.has_header) == ("xlsx", None, True)
    assert result.column_label == 'header "E-mail" on sheet "Contacts"'
    assert result.rows == 4
    assert result.valid == ["ann@example.com"]
    assert result.invalid == [
        UnusedRow(3, "bob@@example.com", REASON_INVALID),
        UnusedRow(4, "", REASON_EMPTY),
    ]
    assert result.duplicates == [UnusedRow(5, "ann@example.com", "duplicate of row 2")]


def test_ingest_xlsx_is_detected_by_content_not_filename():
    result = ingest(xlsx_bytes(ROWS), filename="export.csv")

    assert result.encoding == "xlsx"


def test_ingest_xlsx_ignores_other_sheets_and_says_so():
    result = ingest(xlsx_bytes(ROWS, extra_sheets=("Old", "Older")))

    assert (
        result.column_label == 'header "E-mail" on sheet "Contacts" (the 2 other sheets not read)'
    )
    assert "other-sheet@example.com" not in result.valid


def test_ingest_xlsx_row_numbers_follow_the_sheet_across_missing_rows():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["B1"] = "Email"
    sheet["B2"] = "ann@example.com"
    sheet["B5"] = "oops"  # rows 3 and 4 do not exist in the file at all
    sheet["B6"] = 42
    buffer = io.BytesIO()
    book.save(buffer)

    result = ingest(buffer.getvalue())

    assert result.column_label == 'header "Email" on sheet "Sheet"'
    assert result.invalid == [
        UnusedRow(3, "", REASON_EMPTY),
        UnusedRow(4, "", REASON_EMPTY),
        UnusedRow(5, "oops", REASON_INVALID),
        UnusedRow(6, "42", REASON_INVALID),
    ]


def test_ingest_xlsx_without_header():
    result = ingest(xlsx_bytes([["Ann", "ann@example.com"], ["Bob", "bob@example.com"]]))

    assert not result.has_header
    assert result.column_label == 'column 2 (no header) on sheet "Contacts"'
    assert result.valid == ["ann@example.com", "bob@example.com"]


def test_ingest_xlsx_refuses_an_empty_first_sheet():
    assert refusal(xlsx_bytes([])) == EMPTY_SHEET.format(sheet="Contacts")


def test_ingest_xlsx_refuses_too_many_rows():
    rows = [["Email"], *([f"p{i}@example.com"] for i in range(20))]

    message = refusal(xlsx_bytes(rows), limits=Limits(max_rows=10))

    assert message == "The file has more than 10 rows; the limit is 10."


def test_ingest_xlsx_refuses_a_declared_size_over_the_limit_before_opening():
    # A zip bomb as the zip directory describes it: the sheet claims to unpack to 300 MB.
    data = declare_uncompressed_size(xlsx_bytes(ROWS), "xl/worksheets/sheet1.xml", 300 << 20)

    message = refusal(data)

    assert message.startswith("The Excel file unpacks to 300.1 MB")
    assert message.endswith("; the limit is 200 MB.")


def test_ingest_xlsx_refuses_unpacked_size_over_a_lowered_limit():
    message = refusal(xlsx_bytes(ROWS), limits=Limits(max_xlsx_uncompressed_bytes=4096))

    assert message.startswith("The Excel file unpacks to ")
    assert message.endswith(" KB; the limit is 4 KB.")


def test_ingest_xlsx_refuses_a_suspicious_compression_ratio():
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes(ROWS))) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    entries["xl/media/image1.bin"] = bytes(5 << 20)  # 5 MB of zeros deflate about 1000:1

    message = refusal(zip_bytes(entries))

    assert message.startswith("The Excel file is compressed ")
    ratio = int(message.split()[5].replace(",", ""))
    assert message == XLSX_SUSPICIOUS_COMPRESSION.format(ratio=ratio)
    assert ratio > 100


def test_ingest_xlsx_refuses_a_damaged_workbook():
    data = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<not xml"})

    assert refusal(data) == XLSX_DAMAGED


def test_ingest_xlsx_refuses_a_truncated_zip():
    assert refusal(xlsx_bytes(ROWS)[:-200]) == XLSX_DAMAGED


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"notes.txt": b"ann@example.com"}, NOT_A_SPREADSHEET.format(what="a ZIP archive")),
        ({"word/document.xml": b"<w/>"}, NOT_A_SPREADSHEET.format(what="a Word document")),
        ({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}, OPENDOCUMENT),
    ],
)
def test_ingest_refuses_zips_that_are_not_workbooks(entries, message):
    assert refusal(zip_bytes(entries)) == message
