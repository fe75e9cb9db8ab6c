"""Excel uploads: detection by content, the sheet to read, zip-bomb and size refusals."""

import io
import random
import re
import zipfile

import openpyxl
import pytest

from suppression_admin.woodpecker.ingest import IngestRefused, Limits, UnusedRow
from suppression_admin.woodpecker.ingest.addresses import REASON_EMPTY, REASON_INVALID
from suppression_admin.woodpecker.ingest.errors import (
    EMPTY_SHEET,
    NO_EMAIL_COLUMN_ON_ANY_SHEET,
    NOT_A_SPREADSHEET,
    OPENDOCUMENT,
    SHEET_CHOICE_NEEDED,
    XLSX_CELL_TOO_LONG,
    XLSX_DAMAGED,
    XLSX_SHARED_STRINGS_TOO_LARGE,
    XLSX_SUSPICIOUS_COMPRESSION,
    XLSX_TOO_MANY_CELLS,
    XLSX_TOO_MANY_COLUMNS,
    XLSX_TOO_MANY_SHARED_STRINGS,
    ColumnChoiceNeeded,
)
from suppression_admin.woodpecker.ingest.xlsx_scan import WorkbookLimits, column_number

from .ingest_support import (
    declare_uncompressed_size,
    ingest,
    workbook,
    xlsx_bytes,
    zip_bytes,
)

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
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


def test_ingest_xlsx_reads_the_one_sheet_with_an_email_column_and_says_which():
    data = workbook(
        {
            "Read me": [["This list comes from the spring campaign."], ["Ask Ann."]],
            "Emails": [["Email"], ["ann@example.com"], ["bob@example.com"]],
            "Totals": [["Count", 2]],
        }
    )

    result = ingest(data)

    assert result.valid == ["ann@example.com", "bob@example.com"]
    assert result.column_label == (
        'header "Email" on sheet "Emails" (the 2 other sheets hold no email column)'
    )


def test_ingest_xlsx_asks_when_several_sheets_have_an_email_column():
    data = xlsx_bytes(ROWS, extra_sheets=("Old",))

    with pytest.raises(ColumnChoiceNeeded) as caught:
        ingest(data)

    assert str(caught.value) == SHEET_CHOICE_NEEDED.format(sheets="“Contacts”, “Old”")
    candidates = [(c.choice, c.label, c.samples) for c in caught.value.candidates]
    assert candidates == [
        (
            "0:1",
            'header "E-mail" on sheet "Contacts"',
            ["Ann@Example.com", "bob@@example.com", "ann@example.com"],
        ),
        ("1:0", 'column 1 (no header) on sheet "Old"', ["other-sheet@example.com"]),
    ]
    chosen = ingest(data, sheet=1, column=0)
    assert chosen.valid == ["other-sheet@example.com"]
    assert chosen.column_label == 'column 1 (no header) on sheet "Old"'


def test_ingest_xlsx_columns_to_choose_from_name_their_sheet():
    data = workbook(
        {
            "Notes": [["hello"]],
            "People": [["Work email", "Home email"], ["a@example.com", "b@example.com"]],
        }
    )

    with pytest.raises(ColumnChoiceNeeded) as caught:
        ingest(data)

    assert [c.choice for c in caught.value.candidates] == ["1:0", "1:1"]
    assert ingest(data, sheet=1, column=1).valid == ["b@example.com"]


def test_ingest_xlsx_without_an_email_column_on_any_sheet_says_so():
    data = workbook({"A": [["Name"], ["Ann"]], "B": [["Notes"], ["none"]]})

    assert refusal(data) == NO_EMAIL_COLUMN_ON_ANY_SHEET.format(count=2)


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


# --- Bounds proven by streaming the XML before openpyxl parses it ---------------------------


def with_part(data: bytes, name: str, edit) -> bytes:
    """``data`` (a workbook) with the XML part ``name`` replaced by ``edit(its text)``."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = {entry: source.read(entry) for entry in source.namelist()}
    entries[name] = edit(entries[name].decode()).encode()
    return zip_bytes(entries)


def with_shared_strings(data: bytes) -> bytes:
    """``data`` (openpyxl's workbook, whose strings are inline) with its strings in a shared
    string table, as Excel writes them."""
    strings: list[str] = []

    def shared(match: re.Match) -> str:
        strings.append(match[2])
        return f'<c r="{match[1]}" t="s"><v>{len(strings) - 1}</v></c>'

    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = {entry: source.read(entry).decode() for entry in source.namelist()}
    for name in [name for name in entries if name.startswith("xl/worksheets/")]:
        entries[name] = re.sub(
            r'<c r="([A-Z]+[0-9]+)" t="inlineStr"><is><t>(.*?)</t></is></c>', shared, entries[name]
        )
    items = "".join(f"<si><t>{text}</t></si>" for text in strings)
    entries["xl/sharedStrings.xml"] = (
        f'<sst xmlns="{MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'
    )
    entries["[Content_Types].xml"] = entries["[Content_Types].xml"].replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    entries["xl/_rels/workbook.xml.rels"] = entries["xl/_rels/workbook.xml.rels"].replace(
        "</Relationships>",
        '<Relationship Id="rIdShared" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    return zip_bytes({name: text.encode() for name, text in entries.items()})


def test_a_workbook_with_shared_strings_is_read():
    data = with_shared_strings(xlsx_bytes(ROWS))
    assert b"sharedStrings" in data

    assert ingest(data).valid == ["ann@example.com"]


def test_ingest_xlsx_refuses_more_shared_strings_than_the_limit():
    rows = [["Email"], *([f"p{i}@example.com"] for i in range(10))]
    limits = Limits(workbook=WorkbookLimits(max_shared_strings=8))

    message = refusal(with_shared_strings(xlsx_bytes(rows)), limits=limits)

    assert message == XLSX_TOO_MANY_SHARED_STRINGS.format(limit=8)
    assert ingest(with_shared_strings(xlsx_bytes(rows[:8])), limits=limits).rows == 7


def test_ingest_xlsx_refuses_shared_strings_larger_than_the_limit():
    rows = [["Email", "Note"], ["ann@example.com", "x" * 20_000], ["b@example.com", "y" * 20_000]]
    limits = Limits(workbook=WorkbookLimits(max_shared_string_chars=2 * 1024 * 1024))
    # Random text, so the zip does not look like a bomb.
    notes = (random.Random(i).randbytes(15_000).hex() for i in range(80))
    big = [["Email", "Note"], *([f"p{i}@example.com", note] for i, note in enumerate(notes))]

    assert ingest(with_shared_strings(xlsx_bytes(rows)), limits=limits).rows == 2
    message = refusal(with_shared_strings(xlsx_bytes(big)), limits=limits)
    assert message == XLSX_SHARED_STRINGS_TOO_LARGE.format(limit=2)


@pytest.mark.parametrize("where", ["shared", "inline"])
def test_ingest_xlsx_refuses_a_cell_longer_than_a_spreadsheet_cell(where):
    data = xlsx_bytes([["Email", "Note"], ["ann@example.com", "short"]])
    long_text = "n" * 40_000
    if where == "shared":
        data = with_shared_strings(data)
        data = with_part(data, "xl/sharedStrings.xml", lambda xml: xml.replace("short", long_text))
    else:
        data = with_part(
            data,
            "xl/worksheets/sheet1.xml",
            lambda xml: xml.replace(
                "</row></sheetData>",
                f'</row><row r="3"><c r="A3" t="inlineStr"><is><t>{long_text}</t></is></c>'
                "</row></sheetData>",
            ),
        )

    assert refusal(data) == XLSX_CELL_TOO_LONG.format(limit=32_767)


def test_ingest_xlsx_refuses_a_cell_beyond_the_column_limit():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Email"])
    sheet.append(["ann@example.com"])
    sheet.cell(row=2, column=1001, value="far away")
    buffer = io.BytesIO()
    book.save(buffer)

    assert refusal(buffer.getvalue()) == XLSX_TOO_MANY_COLUMNS.format(column="ALM", limit=1000)
    assert column_number("ALL") == 1000


@pytest.mark.parametrize(
    "edit",
    [
        lambda xml: xml.replace('<row r="2"', '<row r="99999999999"'),
        lambda xml: '<!DOCTYPE x [<!ENTITY a "aaaa">]>' + xml,
    ],
    ids=["row-number-beyond-excel", "doctype"],
)
def test_ingest_xlsx_refuses_xml_no_workbook_holds(edit):
    data = with_part(xlsx_bytes(ROWS), "xl/worksheets/sheet1.xml", edit)

    assert refusal(data) == XLSX_DAMAGED


def test_ingest_xlsx_scans_a_sheet_whatever_its_part_is_named():
    data = xlsx_bytes([["Email", "Note"], ["ann@example.com", "short"]])
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    sheet = entries.pop("xl/worksheets/sheet1.xml").replace(b"short", b"n" * 40_000)
    entries["xl/worksheets/sheet1.bin"] = sheet
    for name in ("[Content_Types].xml", "xl/_rels/workbook.xml.rels"):
        entries[name] = entries[name].replace(b"sheet1.xml", b"sheet1.bin")
    renamed = zip_bytes(entries)

    assert refusal(renamed) == XLSX_CELL_TOO_LONG.format(limit=32_767)
    short = with_part(
        renamed, "xl/worksheets/sheet1.bin", lambda xml: xml.replace("n" * 40_000, "ok")
    )
    assert ingest(short).valid == ["ann@example.com"]  # openpyxl does read such a part


def test_ingest_xlsx_counts_a_cell_of_rich_text_runs_as_one():
    runs = "".join(f"<r><t>{'n' * 10_000}</t></r>" for _ in range(5))
    data = with_part(
        xlsx_bytes([["Email"], ["ann@example.com"]]),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(
            "</row></sheetData>",
            f'</row><row r="3"><c r="B3" t="inlineStr"><is>{runs}</is></c></row></sheetData>',
        ),
    )

    assert refusal(data) == XLSX_CELL_TOO_LONG.format(limit=32_767)


def test_ingest_xlsx_counts_the_cells_openpyxl_pads_rows_out_to():
    rows = "".join(f'<row r="{n}"><c r="AX{n}"/></row>' for n in range(3, 8))
    data = with_part(
        xlsx_bytes([["Email"], ["ann@example.com"]]),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace("</row></sheetData>", f"</row>{rows}</sheetData>"),
    )
    limits = Limits(workbook=WorkbookLimits(max_cells=5 * 50 + 1))

    assert refusal(data, limits=limits) == XLSX_TOO_MANY_CELLS.format(limit=251)
    assert ingest(data, limits=Limits(workbook=WorkbookLimits(max_cells=5 * 50 + 2))).rows == 1


def test_ingest_xlsx_refuses_many_small_entries_that_add_up_to_a_bomb():
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes(ROWS))) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    for n in range(20):
        entries[f"xl/media/image{n}.bin"] = bytes(900 * 1024)  # each under the 1 MB check

    message = refusal(zip_bytes(entries))

    assert message.startswith("The Excel file is compressed ")
