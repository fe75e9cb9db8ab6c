"""Refusals: the file (or paste) as a whole cannot be used, with a sentence saying why.

The texts are module constants so that tests (and views) can assert on them; those with
``{placeholders}`` are filled in with ``str.format``.
"""

from dataclasses import dataclass

EMPTY_FILE = "The file is empty."
HEADER_ONLY = "The file has a header row but no data rows."
NO_EMAIL_COLUMN = (
    "No column of email addresses was found. Head the column “Email”, or check that the "
    "file holds email addresses."
)
FILE_TOO_LARGE = "The file is {size}; the limit is {limit}."
TOO_MANY_ROWS = "The file has more than {limit:,} rows; the limit is {limit:,}."
NOT_A_SPREADSHEET = "This looks like {what}, not a spreadsheet."
BINARY_FILE = "This looks like a binary file, not a spreadsheet or a CSV file."
UTF16_WITHOUT_BOM = (
    "This file looks like UTF-16 text without a byte-order mark, which cannot be read "
    "reliably. Open it in Excel, save it as “CSV UTF-8 (Comma delimited)” and upload that."
)
UTF32_TEXT = (
    "This file is UTF-32 text, which is not supported. Save it as “CSV UTF-8 (Comma "
    "delimited)” and upload that."
)
LEGACY_XLS = (
    "This looks like an old-style Excel .xls file (or a password-protected workbook). Open it "
    "in Excel, save it as .xlsx or as “CSV UTF-8 (Comma delimited)”, and upload that."
)
PROTECTED_WORKBOOK = (
    "This workbook is password-protected, so it cannot be read. Remove the password in "
    "Excel (or save it as “CSV UTF-8 (Comma delimited)”) and upload it again."
)
OPENDOCUMENT = (
    "This looks like an OpenDocument spreadsheet (.ods). Save it as .xlsx or as “CSV UTF-8 "
    "(Comma delimited)” and upload that."
)
XLSB = (
    "This looks like a binary Excel workbook (.xlsb). Save it as .xlsx or as “CSV UTF-8 "
    "(Comma delimited)” and upload that."
)
HTML_PAGE = (
    "This looks like a web page (HTML), not a spreadsheet. If it came from an “Export to "
    "Excel” button, open it in Excel, save it as .xlsx or CSV, and upload that."
)
XML_FILE = (
    "This looks like an XML file, not a spreadsheet. Open it in Excel, save it as .xlsx or "
    "CSV, and upload that."
)
XLSX_TOO_LARGE_UNPACKED = "The Excel file unpacks to {size}; the limit is {limit}."
XLSX_SUSPICIOUS_COMPRESSION = (
    "The Excel file is compressed {ratio:,} to 1, which is suspicious (it may be a zip bomb), "
    "so it was not opened."
)
XLSX_DAMAGED = (
    "The Excel file could not be read; it may be damaged. Open it in Excel, save it again "
    "(or save it as CSV), and upload that."
)
XLSX_TOO_MANY_SHARED_STRINGS = (
    "The workbook holds more than {limit:,} different texts; the limit is {limit:,}. Save "
    "the sheet with the addresses as “CSV UTF-8 (Comma delimited)” and upload that."
)
XLSX_SHARED_STRINGS_TOO_LARGE = (
    "The workbook's texts add up to more than {limit:,} MB; the limit is {limit:,} MB. Save "
    "the sheet with the addresses as “CSV UTF-8 (Comma delimited)” and upload that."
)
XLSX_CELL_TOO_LONG = (
    "The workbook holds a cell of more than {limit:,} characters; a spreadsheet cell holds "
    "at most {limit:,}, so the file was not opened."
)
XLSX_TOO_MANY_COLUMNS = (
    "The workbook uses column {column}; the limit is {limit:,} columns. Delete the columns "
    "after the last one with data (or save the sheet as CSV) and upload it again."
)
XLSX_TOO_MANY_CELLS = (
    "The workbook holds more than {limit:,} cells (counting each row out to its last "
    "cell); the limit is {limit:,}. Delete the columns and sheets not needed (or save the "
    "sheet with the addresses as CSV) and upload it again."
)
XLSX_NO_WORKSHEET = "The workbook has no worksheets."
EMPTY_SHEET = "The sheet “{sheet}” of the workbook is empty."
NO_EMAIL_COLUMN_ON_ANY_SHEET = (
    "No column of email addresses was found on any of the workbook's {count:,} sheets. Head "
    "the column “Email”, or check that the file holds email addresses."
)
SHEET_CHOICE_NEEDED = "Several sheets hold email addresses ({sheets}). Choose the column to read."
SHEET_OUT_OF_RANGE = "Sheet {number} was chosen, but the workbook has only {count:,}."
COLUMN_OUT_OF_RANGE = "Column {number} was chosen, but the file has only {count}."
COLUMN_CHOICE_NEEDED = "Several columns could hold the email addresses ({labels}). Choose one."
CSV_UNREADABLE = "Line {line:,} of the file could not be read as CSV: {problem}."
PASTED_EMPTY = "The pasted text holds no addresses."
PASTED_TOO_LARGE = "The pasted text is {size}; the limit is {limit}."
PASTED_TOO_MANY = "The pasted text has more than {limit:,} addresses; the limit is {limit:,}."


class IngestRefused(ValueError):
    """The upload or paste cannot be used at all; ``message`` is a sentence naming why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class ColumnCandidate:
    """A column that could be the email column.

    ``index`` is 0-based (pass it back as ``column=``); ``label`` is what a person sees
    (``header "Work email"`` or ``column 3 (no header)``); ``samples`` are a few of its
    first non-empty values.
    """

    index: int
    label: str
    samples: list[str]
    sheet: int | None = None  # 0-based, for a workbook

    @property
    def choice(self) -> str:
        """What a form posts back for this candidate: "column" or "sheet:column"."""
        return str(self.index) if self.sheet is None else f"{self.sheet}:{self.index}"


class ColumnChoiceNeeded(IngestRefused):
    """More than one column could hold the addresses; ask the operator which one.

    Call again with ``column=candidate.index`` (and ``sheet=candidate.sheet``).
    """

    def __init__(self, candidates: list[ColumnCandidate], message: str = "") -> None:
        self.candidates = candidates
        labels = ", ".join(candidate.label for candidate in candidates)
        super().__init__(message or COLUMN_CHOICE_NEEDED.format(labels=labels))


def human_size(size: int, *, round_up: bool) -> str:
    """``size`` bytes as "25.3 MB", "512 KB" or "900 bytes" (1 MB = 1,048,576 bytes).

    File sizes round up and limits round down, so a file just over the limit never reads as
    equal to it.
    """
    if size < 1024:
        return f"{size:,} bytes"
    value, unit = (size / 1024, "KB") if size < 1024 * 1024 else (size / 1024 / 1024, "MB")
    tenths = -(-value * 10 // 1) if round_up else value * 10 // 1
    text = f"{tenths / 10:,.1f}".removesuffix(".0")
    return f"{text} {unit}"
