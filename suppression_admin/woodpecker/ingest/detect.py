"""What kind of file this is: refusals for non-spreadsheets, the text encoding, the delimiter.

Everything here looks at the first ``HEAD_BYTES`` of the file only.
"""

import codecs
import csv
import io
from collections import Counter
from itertools import islice

from .addresses import is_address
from .errors import (
    BINARY_FILE,
    HTML_PAGE,
    LEGACY_XLS,
    NOT_A_SPREADSHEET,
    PROTECTED_WORKBOOK,
    UTF16_WITHOUT_BOM,
    UTF32_TEXT,
    XML_FILE,
    IngestRefused,
)

HEAD_BYTES = 64 * 1024
ZIP = "zip"
DELIMITERS = (",", ";", "\t")
# Records of the head parsed to choose the delimiter.
DELIMITER_SAMPLE_RECORDS = 50
# A delimiter is plausible when at least this share of those records has 2+ fields with it
# (not more: ragged rows are common).
PLAUSIBLE_SHARE = 0.5

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Magic numbers of files people upload by mistake: (prefix, offset, what it is).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"ftyp", 4, "a photo or video file"),
    (b"%PDF-", 0, "a PDF document"),
    (b"{\\rtf", 0, "a Rich Text (RTF) document"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!\x1a\x07", 0, "a RAR archive"),
    (b"\xfd7zXZ\x00", 0, "an xz archive"),
    (b"\x28\xb5\x2f\xfd", 0, "a Zstandard archive"),
    (b"1AY&SY", 4, "a bzip2 archive"),
    (b"SQLite format 3\x00", 0, "an SQLite database"),
    (b"\x7fELF", 0, "a program"),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, None),
    (codecs.BOM_UTF32_BE, None),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# How much of the head the NUL-byte scans look at.
_NUL_SCAN_BYTES = 8 * 1024


def looks_like_zip(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a zip archive (an .xlsx, say)."""
    return head.startswith(_ZIP_MAGIC)


def detect_kind(head: bytes, *, complete: bool, filename: str = "") -> str:
    """``ZIP`` for a zip archive (maybe xlsx), else the text encoding to read the file with.

    ``head`` is the first ``HEAD_BYTES`` of the file, ``complete`` whether that is all of
    it. The encoding is "utf-8-sig" or "utf-16" when a byte-order mark says so, "utf-8"
    when the head decodes as UTF-8 (the rest may still not: see ``ingest_upload``), else
    "cp1252". Raises ``IngestRefused`` for anything that is not a spreadsheet or CSV:
    images, documents, archives, programs, old .xls, UTF-32 or BOM-less UTF-16 text, and
    other binary content (NUL bytes). The content decides; ``filename`` only refines the
    message for an old-style Office file (that container holds .xls, .doc, and
    password-protected .xlsx alike).
    """
    if looks_like_zip(head):
        return ZIP
    if head.startswith(_OLE_MAGIC):
        extension = filename.rpartition(".")[2].lower()
        if extension in {"xlsx", "xlsm"}:
            raise IngestRefused(PROTECTED_WORKBOOK)
        if extension in {"doc", "ppt", "msg"}:
            raise IngestRefused(NOT_A_SPREADSHEET.format(what="an old-style Office document"))
        raise IngestRefused(LEGACY_XLS)
    for magic, offset, what in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if magic == b"1AY&SY" and not head.startswith(b"BZh"):
                continue
            raise IngestRefused(NOT_A_SPREADSHEET.format(what=what))
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            if encoding is None:
                raise IngestRefused(UTF32_TEXT)
            if encoding == "utf-8-sig":
                _refuse_markup(head[len(bom) :])
            return encoding
    scanned = head[:_NUL_SCAN_BYTES]
    if b"\x00" in scanned:
        raise IngestRefused(UTF16_WITHOUT_BOM if _looks_like_utf16(scanned) else BINARY_FILE)
    _refuse_markup(head)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _looks_like_utf16(data: bytes) -> bool:
    # Mostly-ASCII UTF-16 has a NUL in every other byte: at odd offsets for little-endian,
    # even for big-endian. Binary files have NULs scattered over both.
    even, odd = data[0::2], data[1::2]
    if not odd:
        return False
    nul_even, nul_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    return (nul_odd > 0.3 and nul_even < 0.02) or (nul_even > 0.3 and nul_odd < 0.02)


def _refuse_markup(head: bytes) -> None:
    start = head[:512].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")):
        raise IngestRefused(HTML_PAGE)
    if start.startswith(b"<?xml"):
        raise IngestRefused(XML_FILE)


def decode_head(head: bytes, encoding: str, *, complete: bool) -> str:
    """The head decoded for sniffing (a character cut in two at the end is left out)."""
    errors = "strict" if encoding == "utf-8" else "replace"
    return codecs.getincrementaldecoder(encoding)(errors).decode(head, final=complete)


def detect_delimiter(sample: str, *, complete: bool) -> str | None:
    """The delimiter of the CSV text starting with ``sample``, or None for one column.

    ``complete`` says whether ``sample`` is the whole file (if not, its last record may be
    cut short and is ignored). Each allowed delimiter (comma, semicolon, tab) parses the
    first ``DELIMITER_SAMPLE_RECORDS`` non-blank records, respecting quotes. It is
    plausible when at least half of them then have two or more fields. Among plausible
    ones the winner yields the most cells that are valid addresses, then the most such
    cells needing no trimming (so "Ann,\tann@example.com" splits at the tab), then the
    most records with the same field count, then the most fields. (When the sample holds nothing but
    delimiters and blanks, any delimiter present will do: the file is blank.)
    ``csv.Sniffer`` is not used: it guesses from character frequencies and misreads files
    whose text columns hold commas.
    """
    best: str | None = None
    best_score: tuple[int, int, float, int] | None = None
    for delimiter in DELIMITERS:
        if delimiter not in sample:
            continue
        records = _sample_records(sample, delimiter, complete=complete)
        if not records:
            if best is None:
                best, best_score = delimiter, (-1, 0, 0.0, 0)
            continue
        multi_field = sum(1 for record in records if len(record) >= 2)
        if multi_field < PLAUSIBLE_SHARE * len(records):
            continue
        modal_width, modal_count = Counter(len(record) for record in records).most_common(1)[0]
        addresses = [cell for record in records for cell in record if is_address(cell)]
        untrimmed = sum(1 for cell in addresses if cell == cell.strip())
        score = (len(addresses), untrimmed, modal_count / len(records), modal_width)
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    return best


def _sample_records(sample: str, delimiter: str, *, complete: bool) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    records: list[list[str]] = []
    try:
        for record in islice(reader, DELIMITER_SAMPLE_RECORDS * 4):
            if any(cell.strip() for cell in record):
                records.append(record)
                if len(records) > DELIMITER_SAMPLE_RECORDS:
                    return records[:DELIMITER_SAMPLE_RECORDS]
    except csv.Error:
        # Only the field-size limit raises here; the main pass reports it with its line.
        pass
    # The reader ran out of sample: unless that was the end of the file, the last record
    # may be cut short.
    return records if complete else records[:-1]
