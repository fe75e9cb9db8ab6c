"""What an ingest returns, the limits it works within, and how it reports progress."""

from collections.abc import Callable
from dataclasses import dataclass, field

from .xlsx_scan import WorkbookLimits

# A reported value is cut to this many characters (the longest valid address is 320).
MAX_REPORTED_VALUE = 320


@dataclass(frozen=True, slots=True)
class UnusedRow:
    """A row that gave no usable address.

    ``row`` is the row number a person sees in their spreadsheet (1-based; the header, when
    there is one, is row 1); for pasted text it is the line number. ``value`` is the raw
    cell value, cut to 320 characters. ``reason`` is in plain words: "empty", "not a valid
    email address", "duplicate of row 12", …
    """

    row: int
    value: str
    reason: str


@dataclass
class IngestResult:
    """The outcome of reading an upload or a paste.

    Every data row read is accounted for exactly once:
    ``rows == len(valid) + len(invalid) + len(duplicates)``.

    ``valid`` holds normalised (trimmed, lowercased) addresses, each once, in first-seen
    order. ``invalid`` holds the rows not used other than duplicates; ``duplicates`` the
    rows whose address appeared earlier (the reason names that first row).
    ``column_label`` says which column was read (``header "E-mail"``,
    ``column 2 (no header)``, with the sheet for workbooks); ``encoding`` is one of
    "utf-8", "utf-8-sig", "utf-16", "cp1252", "xlsx" or "text" (pasted).
    """

    rows: int
    valid: list[str]
    invalid: list[UnusedRow]
    duplicates: list[UnusedRow]
    column_label: str
    encoding: str
    delimiter: str | None
    has_header: bool


@dataclass(frozen=True)
class Limits:
    """Bounds on what an ingest will read; anything beyond is refused, never truncated."""

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 1_000_000
    max_xlsx_uncompressed_bytes: int = 200 * 1024 * 1024
    workbook: WorkbookLimits = field(default_factory=WorkbookLimits)


# Called as reading goes on with what it is doing and the rows read so far (0 before rows).
Progress = Callable[[str, int], None]
CHECKING = "Checking the workbook"
OPENING = "Opening the workbook"
FINDING_SHEET = "Finding the sheet with the addresses"
READING_ROWS = "Reading rows"
# Rows between two calls while reading rows.
PROGRESS_EVERY_ROWS = 20_000


def no_progress(phase: str, rows: int) -> None:
    """The default: nobody is watching."""
