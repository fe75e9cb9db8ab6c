"""CSV uploads: the shapes people send, the header and column rules, and the refusals."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from suppression_admin.woodpecker.ingest import (
    ColumnChoiceNeeded,
    IngestRefused,
    Limits,
    UnusedRow,
    ingest_upload,
)
from suppression_admin.woodpecker.ingest.addresses import (
    REASON_EMPTY,
    REASON_INVALID,
    REASON_INVISIBLE,
    REASON_MIXED_ENCODING,
    REASON_UNDECODABLE,
)
from suppression_admin.woodpecker.ingest.detect import HEAD_BYTES
from suppression_admin.woodpecker.ingest.errors import (
    BINARY_FILE,
    COLUMN_OUT_OF_RANGE,
    EMPTY_FILE,
    HEADER_ONLY,
    HTML_PAGE,
    LEGACY_XLS,
    NO_EMAIL_COLUMN,
    NOT_A_SPREADSHEET,
    PROTECTED_WORKBOOK,
    TOO_MANY_ROWS,
    UTF16_WITHOUT_BOM,
    UTF32_TEXT,
    human_size,
)

from .ingest_support import CountingBytesIO, assert_accounted, ingest, reasons

CONTACTS = "Name,Email,Company\nAnn Lee,ann@example.com,Acme\nBob Ray,bob@example.org,Globex\n"


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(IngestRefused) as caught:
        ingest(data, **kwargs)
    return caught.value.message


# --- Encodings -----------------------------------------------------------------------------


def test_ingest_utf8_with_header():
    result = ingest(CONTACTS.encode())

    assert result.valid == ["ann@example.com", "bob@example.org"]
    assert (result.rows, result.invalid, result.duplicates) == (2, [], [])
    assert result.column_label == 'header "Email"'
    assert (result.encoding, result.delimiter, result.has_header) == ("utf-8", ",", True)


def test_ingest_utf8_with_bom_keeps_the_header_clean():
    result = ingest(b"\xef\xbb\xbf" + "E-mail,Name\nzoë@exämple.com,Zoë\n".encode())

    assert result.encoding == "utf-8-sig"
    assert result.column_label == 'header "E-mail"'
    assert result.invalid == [UnusedRow(2, "zoë@exämple.com", REASON_INVALID)]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_ingest_utf16_with_bom(codec):
    bom = "\ufeff".encode(codec)
    text = "Nom\tCourriel\r\nRenée\trenee@exämple.fr\r\nLéo\tleo@example.fr\r\n"

    result = ingest(bom + text.encode(codec))

    assert result.encoding == "utf-16"
    assert result.delimiter == "\t"
    assert result.column_label == 'header "Courriel"'
    assert result.valid == ["renee@exämple.fr", "leo@example.fr"]


def test_ingest_windows_1252_decodes_accents_and_curly_quotes():
    text = (
        "Name;Email;Note\r\nJosé;josé@exämple.com;“VIP”\r\nJoe;Joe@Exämple.com;\u2018ok\u2019\r\n"
    )

    result = ingest(text.encode("cp1252"))

    assert result.encoding == "cp1252"
    assert result.delimiter == ";"
    # The address is read exactly as written: Django refuses non-ASCII local parts.
    assert result.invalid == [UnusedRow(2, "josé@exämple.com", REASON_INVALID)]
    assert result.valid == ["joe@exämple.com"]


def test_ingest_restarts_as_windows_1252_when_utf8_fails_past_the_head():
    rows = [f"person{i}@example.com" for i in range(HEAD_BYTES // 20)]
    text = "email\n" + "\n".join(rows) + "\nrené@exämple.com\nrene@exämple.com\n"

    result = ingest(text.encode("cp1252"))

    assert result.encoding == "cp1252"
    assert result.valid == [*rows, "rene@exämple.com"]
    assert result.invalid == [UnusedRow(len(rows) + 2, "rené@exämple.com", REASON_INVALID)]


def test_ingest_windows_1252_undefined_byte_is_reported_never_altered():
    data = b"email\nann@ex\x81ample.com\nbob@example.com\n"

    result = ingest(data)

    assert result.encoding == "cp1252"
    assert result.valid == ["bob@example.com"]
    assert result.invalid == [UnusedRow(2, "ann@ex\ufffdample.com", REASON_UNDECODABLE)]


def test_ingest_mixed_utf8_and_windows_1252_reports_the_garbled_rows():
    head = "email\nann@exämple.com\n".encode()
    filler = b"".join(b"person%d@example.com\n" % i for i in range(HEAD_BYTES // 20))
    data = head + filler + "bob@exämple.com\n".encode("cp1252")

    result = ingest(data)

    assert result.encoding == "cp1252"
    assert reasons(result)[2] == REASON_MIXED_ENCODING
    assert "bob@exämple.com" in result.valid


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_ingest_refuses_utf16_without_bom(codec):
    assert refusal(CONTACTS.encode(codec)) == UTF16_WITHOUT_BOM


def test_ingest_refuses_utf32():
    assert refusal(("\ufeff" + CONTACTS).encode("utf-32")) == UTF32_TEXT


# --- Delimiters, quoting, line endings -------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_ingest_detects_the_delimiter(delimiter):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerows([["Name", "Email", "Notes"], ["Lee, Ann", "ann@example.com", "a;b\tc"]])
    writer.writerows([["Ray", f"bob{i}@example.com", ""] for i in range(5)])

    result = ingest(buffer.getvalue().encode())

    assert result.delimiter == delimiter
    assert len(result.valid) == 6


def test_ingest_delimiter_is_not_fooled_by_commas_in_a_semicolon_file():
    # csv.Sniffer picks "," for this file (more commas than semicolons on every line).
    text = "Nom;Email\nDupont, Jean, Marie;jean@example.fr\nMartin, Luc, Paul;luc@example.fr\n"

    result = ingest(text.encode())

    assert result.delimiter == ";"
    assert result.valid == ["jean@example.fr", "luc@example.fr"]


def test_ingest_one_column_needs_no_delimiter():
    result = ingest(b"ann@example.com\nbob@example.com\n")

    assert result.delimiter is None
    assert result.column_label == "column 1 (no header)"
    assert result.valid == ["ann@example.com", "bob@example.com"]


def test_ingest_quoted_fields_with_commas_and_line_breaks_keep_record_numbers():
    text = (
        "Name,Email,Address\r\n"
        '"Lee, Ann",ann@example.com,"1 Main St\r\nSpringfield"\r\n'
        '"Ray, Bob","bob@@example.com","2 High St\nLine two\nLine three"\r\n'
        "Cy,cy@example.com,\r\n"
        "Dee,,\r\n"
    )

    result = ingest(text.encode())

    assert result.rows == 4
    assert result.valid == ["ann@example.com", "cy@example.com"]
    assert result.invalid == [
        UnusedRow(3, "bob@@example.com", REASON_INVALID),
        UnusedRow(5, "", REASON_EMPTY),
    ]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_ingest_line_endings(newline):
    text = newline.join(["Email,Name", "ann@example.com,Ann", "bad,Bob", "cy@example.com,Cy"])

    result = ingest(text.encode())

    assert result.valid == ["ann@example.com", "cy@example.com"]
    assert result.invalid == [UnusedRow(3, "bad", REASON_INVALID)]


def test_ingest_trailing_empty_lines_are_not_rows_but_blank_lines_between_are():
    text = "\n\nEmail,Name\nann@example.com,Ann\n\n,\nbob@example.com,Bob\n\n\n \n,,\n"

    result = ingest(text.encode())

    assert result.rows == 4
    assert result.valid == ["ann@example.com", "bob@example.com"]
    assert result.invalid == [UnusedRow(5, "", REASON_EMPTY), UnusedRow(6, "", REASON_EMPTY)]


def test_ingest_ragged_rows():
    text = "Name,Email,Phone\nAnn,ann@example.com\nBob\nCy,cy@example.com,555,extra,cells\n"

    result = ingest(text.encode())

    assert result.valid == ["ann@example.com", "cy@example.com"]
    assert result.invalid == [UnusedRow(3, "", REASON_EMPTY)]


# --- Header and column ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "email",
        "E-mail",
        "Email Address",
        "e-mail address",
        "MAIL",
        "EmailAddress",
        "email_address",
        "Work email",
        "Courriel",
        "Correo electrónico",
        " E-Mail-Adresse ",
    ],
)
def test_ingest_finds_the_column_by_its_header(title):
    text = f"Name,{title},Manager\nAnn,ann@example.com,\nBob,bob@example.com,\n"

    result = ingest(text.encode())

    assert result.column_label == f'header "{title.strip()}"'
    assert result.valid == ["ann@example.com", "bob@example.com"]


def test_ingest_finds_the_column_by_content_without_header():
    text = "Ann,Lee,ann@example.com,12\nBob,Ray,bob@example.com,13\nCy,Po,oops,14\n"

    result = ingest(text.encode())

    assert not result.has_header
    assert result.column_label == "column 3 (no header)"
    assert result.valid == ["ann@example.com", "bob@example.com"]
    assert result.invalid == [UnusedRow(3, "oops", REASON_INVALID)]


def test_ingest_finds_the_column_by_content_under_an_unknown_header():
    text = "Name,Contact,Opt-in email\nAnn,ann@example.com,yes\nBob,bob@example.com,no\n"

    result = ingest(text.encode())

    assert result.column_label == 'header "Contact"'
    assert result.valid == ["ann@example.com", "bob@example.com"]


def test_ingest_header_rule_keeps_a_mistyped_first_row_as_data():
    result = ingest(b"Ann,ann@@example.com\nBob,bob@example.com\n")

    assert not result.has_header
    assert result.invalid == [UnusedRow(1, "ann@@example.com", REASON_INVALID)]


def test_ingest_header_rule_keeps_a_first_row_without_address_as_data():
    result = ingest(b"Ann,Lee,\nBob,Ray,bob@example.com\nCy,Po,cy@example.com\n")

    assert not result.has_header
    assert result.column_label == "column 3 (no header)"
    assert result.invalid == [UnusedRow(1, "", REASON_EMPTY)]


def test_ingest_asks_which_column_when_two_headers_name_email_columns():
    text = "Name,Work email,Personal email\nAnn,ann@work.com,ann@home.com\nBob,,bob@home.com\n"

    with pytest.raises(ColumnChoiceNeeded) as caught:
        ingest(text.encode())

    candidates = caught.value.candidates
    assert [(c.index, c.label, c.samples) for c in candidates] == [
        (1, 'header "Work email"', ["ann@work.com"]),
        (2, 'header "Personal email"', ["ann@home.com", "bob@home.com"]),
    ]
    assert caught.value.message == (
        "Several columns could hold the email addresses "
        '(header "Work email", header "Personal email"). Choose one.'
    )
    result = ingest(text.encode(), column=2)
    assert result.column_label == 'header "Personal email"'
    assert result.valid == ["ann@home.com", "bob@home.com"]


def test_ingest_asks_which_column_when_two_columns_hold_addresses():
    text = "ann@example.com,boss@example.com\nbob@example.com,boss@example.com\n"

    with pytest.raises(ColumnChoiceNeeded) as caught:
        ingest(text.encode())

    assert [c.label for c in caught.value.candidates] == [
        "column 1 (no header)",
        "column 2 (no header)",
    ]
    result = ingest(text.encode(), column=1)
    assert result.valid == ["boss@example.com"]
    assert result.duplicates == [UnusedRow(2, "boss@example.com", "duplicate of row 1")]


def test_ingest_chosen_column_out_of_range_is_refused():
    message = refusal(CONTACTS.encode(), column=3)

    assert message == COLUMN_OUT_OF_RANGE.format(number=4, count="3 columns")
    assert message == "Column 4 was chosen, but the file has only 3 columns."


# --- Normalising, validating, de-duplicating ------------------------------------------------


def test_ingest_normalises_before_validating_and_deduplicating():
    text = (
        "Email\n"
        "  Ann@Example.COM\u00a0\n"
        "\u200bann@example.com\n"
        "<ANN@example.com>\n"
        "mailto:bob@example.com\n"
        "bob\u200b@example.com\n"
        "\u00a0\n"
        "cy@example.com\n"
    )

    result = ingest(text.encode())

    assert result.valid == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert result.duplicates == [
        UnusedRow(3, "\u200bann@example.com", "duplicate of row 2"),
        UnusedRow(4, "<ANN@example.com>", "duplicate of row 2"),
    ]
    assert result.invalid == [
        UnusedRow(6, "bob\u200b@example.com", REASON_INVISIBLE),
        UnusedRow(7, "\u00a0", REASON_EMPTY),
    ]


def test_ingest_clips_long_reported_values():
    long_value = "x" * 1000 + "@example.com"

    result = ingest(f"Email\n{long_value}\nann@example.com\n".encode())

    [unused] = result.invalid
    assert len(unused.value) == 320
    assert unused.value == long_value[:319] + "…"


# --- Refusals -------------------------------------------------------------------------------


def test_ingest_refuses_an_empty_file():
    assert refusal(b"") == EMPTY_FILE == "The file is empty."


def test_ingest_refuses_a_file_of_blank_lines():
    assert refusal(b"\r\n \r\n,,\r\n") == EMPTY_FILE


def test_ingest_refuses_a_header_only_file():
    assert refusal(b"Name,Email\r\n\r\n") == HEADER_ONLY


def test_ingest_refuses_a_file_without_an_email_column():
    assert refusal(b"Name,Phone\nAnn,555\nBob,556\n") == NO_EMAIL_COLUMN


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (b"GIF89a\x01\x00", "a GIF image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "a gzip archive"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "a 7-Zip archive"),
        (b"Rar!\x1a\x07\x01\x00", "a RAR archive"),
        (b"\x7fELF\x02\x01\x01\x00", "a program"),
    ],
)
def test_ingest_refuses_files_recognised_by_magic_number(data, what):
    assert refusal(data + b"ann@example.com\n") == NOT_A_SPREADSHEET.format(what=what)


def test_ingest_refuses_a_png_with_a_plain_sentence():
    message = refusal(b"\x89PNG\r\n\x1a\n\x00\x00")

    assert message == "This looks like a PNG image, not a spreadsheet."


def test_ingest_refuses_other_binary_content():
    assert refusal(b"email\nann@example.com\n\x00\x01\x02\x03\xff\xfe\x00\x00") == BINARY_FILE


OLE_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)


def test_ingest_refuses_old_excel_files():
    message = refusal(OLE_FILE, filename="list.xls")

    assert message == LEGACY_XLS
    assert ".xlsx" in message
    assert "CSV" in message


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("Secret.XLSX", PROTECTED_WORKBOOK),
        ("minutes.doc", NOT_A_SPREADSHEET.format(what="an old-style Office document")),
        ("upload", LEGACY_XLS),
    ],
)
def test_ingest_old_office_container_message_follows_the_filename(filename, message):
    assert refusal(OLE_FILE, filename=filename) == message


def test_ingest_refuses_an_html_export():
    assert refusal(b"<html><table><tr><td>ann@example.com</td></tr></table></html>") == HTML_PAGE


def test_ingest_refuses_a_file_over_the_size_limit_without_reading_it(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("wb") as file:
        file.truncate(int(25.3 * 1024 * 1024))  # sparse: costs no disk or time

    class CountingFile(io.FileIO):
        bytes_read = 0

        def read(self, size: int = -1, /) -> bytes:
            data = super().read(size)
            self.bytes_read += len(data)
            return data

    with CountingFile(path) as file, pytest.raises(IngestRefused) as caught:
        ingest_upload(file, filename="big.csv")

    assert caught.value.message == "The file is 25.3 MB; the limit is 20 MB."
    assert file.bytes_read == 0


def test_human_size_never_shows_an_oversized_file_as_the_limit():
    assert human_size(20 * 1024 * 1024 + 1, round_up=True) == "20.1 MB"
    assert human_size(20 * 1024 * 1024, round_up=False) == "20 MB"
    assert human_size(1536, round_up=True) == "1.5 KB"
    assert human_size(900, round_up=False) == "900 bytes"


def test_ingest_refuses_too_many_rows_and_stops_reading():
    data = CountingBytesIO(b"email\n" + b"".join(b"p%d@example.com\n" % i for i in range(200_000)))

    with pytest.raises(IngestRefused) as caught:
        ingest_upload(data, filename="many.csv", limits=Limits(max_rows=1000))

    assert caught.value.message == "The file has more than 1,000 rows; the limit is 1,000."
    assert data.bytes_read < 4 * HEAD_BYTES < len(data.getvalue())


def test_too_many_rows_message_at_the_default_limit():
    assert TOO_MANY_ROWS.format(limit=Limits().max_rows) == (
        "The file has more than 1,000,000 rows; the limit is 1,000,000."
    )


def test_ingest_rows_limit_counts_data_rows_only():
    result = ingest(b"email\na@example.com\nb@example.com\n\n\n", limits=Limits(max_rows=2))

    assert result.rows == 2


def test_one_over_long_cell_makes_its_row_unusable_not_the_file():
    note = b"x" * 1_048_576
    multi_line = b'"' + b"line\r\n" * 10_000 + b'"'
    result = ingest(
        b"email,notes\r\na@example.com,ok\r\nb@example.com," + note + b"\r\n"
        b"c@example.com," + multi_line + b"\r\nd@example.com,ok\r\n"
    )

    assert result.valid == ["a@example.com", "d@example.com"]
    assert reasons(result) == {
        3: "has a cell of 1,048,576 characters; a spreadsheet cell holds at most 32,767",
        4: "has a cell of 60,000 characters; a spreadsheet cell holds at most 32,767",
    }
    assert [row.value for row in result.invalid] == ["b@example.com", "c@example.com"]


@pytest.mark.parametrize(
    "content",
    [
        b"Email,\r\nann@example.com,\r\nbob@example.com,\r\ncid@example.com,\r\n",
        b"Email\r\nann@example.com,,\r\nbob@example.com\r\ncid@example.com\r\n,,\r\n",
        b"ann@example.com\r\nbob@example.com ;\r\ncid@example.com\r\n",
        b"Email,,\r\nann@example.com,,\r\nbob@example.com,,\r\ncid@example.com,,\r\n,,\r\n",
        b"Email\r\nann@example.com\r\n, bob@example.com\r\ncid@example.com\r\n",
    ],
    ids=["trailing", "some-trailing", "stray-semicolon", "blank-columns", "leading"],
)
def test_a_one_column_file_with_trailing_or_stray_delimiters_is_one_column(content):
    result = ingest(content)

    assert result.valid == ["ann@example.com", "bob@example.com", "cid@example.com"]
    assert result.invalid == []


def test_a_one_column_file_never_hides_a_second_address_in_a_row():
    result = ingest(b"Email\r\nann@example.com\r\nbob@example.com,cid@example.com\r\n")

    assert result.valid == ["ann@example.com"]
    assert reasons(result) == {3: "not a valid email address"}


# --- Django upload objects ------------------------------------------------------------------


def test_ingest_reads_django_uploads_and_leaves_them_open():
    in_memory = SimpleUploadedFile("contacts.csv", CONTACTS.encode(), "text/csv")
    on_disk = TemporaryUploadedFile("contacts.csv", "text/csv", len(CONTACTS), "utf-8")
    on_disk.write(CONTACTS.encode())
    on_disk.seek(0)

    for upload in (in_memory, on_disk):
        result = ingest_upload(upload, filename=upload.name)
        assert_accounted(result)
        assert result.valid == ["ann@example.com", "bob@example.org"]
        assert not upload.closed
        upload.seek(0)
        assert upload.read(4) == b"Name"
    on_disk.close()
