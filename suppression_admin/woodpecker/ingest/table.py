"""From records (lists of cell texts) to an IngestResult: header, email column, accounting.

Shared by CSV and xlsx. Rules, in the order they apply:

* **Blank records.** A record whose cells are all empty (after trimming) is blank. Blank
  records before the first non-blank one and after the last one are not rows; blank
  records in between are rows, reported as "empty". They still take their row number, as
  they do in a spreadsheet.
* **Header.** The first non-blank record is a header when none of its cells is a valid
  address and either one of its cells names an email column (see ``is_email_header``) or
  none contains "@". The "@" clause keeps a first data row whose only address is mistyped
  (``bob@@example.com``) from being swallowed as a header: it is reported instead. For
  the same reason, once the email column is known, a would-be header that is blank in
  that column is taken as a data row (with an empty email cell) after all.
* **Email column**, unless the caller chose one. Among the first ``SAMPLE_RECORDS`` data
  records, a column *looks like email* when most of its non-empty values contain "@" and
  at least one is a valid address. With a header, the columns whose header names an email
  column and that look like email win; failing those, the columns that look like email;
  failing those, the columns whose header names an email column. Without a header, the
  columns that look like email. One column: it is used. Several: ``ColumnChoiceNeeded``.
  None: refused.
* **Over-long cells.** A data record with a cell over ``MAX_CELL_LENGTH`` characters (a
  1 MB note pasted into a spreadsheet) is reported as unusable, with its row number; the
  rest of the file is read.
"""

import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice

from .addresses import TRIM_CHARS, Tally, clip, is_address
from .errors import (
    COLUMN_OUT_OF_RANGE,
    EMPTY_FILE,
    HEADER_ONLY,
    NO_EMAIL_COLUMN,
    ColumnCandidate,
    ColumnChoiceNeeded,
    IngestRefused,
)
from .result import PROGRESS_EVERY_ROWS, READING_ROWS, Progress, no_progress

# A row with a longer cell is unusable (a spreadsheet cell holds at most this many).
MAX_CELL_LENGTH = 32_767
REASON_CELL_TOO_LONG = (
    "has a cell of {length:,} characters; a spreadsheet cell holds at most 32,767"
)
# Data records examined to find the email column (and the width of the file).
SAMPLE_RECORDS = 200
SAMPLES_PER_CANDIDATE = 3
SAMPLE_VALUE_LENGTH = 80

# Header texts, reduced by header_key, that name an email column outright …
EMAIL_HEADERS = frozenset(
    {
        "mail",
        "mailaddress",
        "mailadresse",
        "adressemail",
        "adresseelectronique",
        "epost",
        "epostadresse",
        "eposta",
        "epostaadresi",
        "sahkoposti",
        "posteelettronica",
        "direcciondecorreo",
    }
)
# … and words that name one wherever they appear ("Work email", "E-Mail-Adresse",
# "Correo electrónico"). A column matched this way but holding no addresses ("Email
# opt-in") loses to one that holds them; see the module docstring.
EMAIL_HEADER_WORDS = ("email", "courriel", "correo")


def header_key(text: str) -> str:
    """``text`` without accents, case, spaces or punctuation: "E-mail Address" → "emailaddress"."""
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    return "".join(char for char in decomposed if char.isalnum())


def is_email_header(text: str) -> bool:
    """Whether a header cell names an email column."""
    key = header_key(text)
    return key in EMAIL_HEADERS or any(word in key for word in EMAIL_HEADER_WORDS)


def is_blank(record: Sequence[str]) -> bool:
    return not any(cell.strip(TRIM_CHARS) for cell in record)


def looks_like_header(record: Sequence[str]) -> bool:
    """The header rule of the module docstring, for the first non-blank record."""
    if any(is_address(cell) for cell in record):
        return False
    return any(is_email_header(cell) for cell in record) or not any("@" in c for c in record)


def _cell(record: Sequence[str], index: int) -> str:
    return record[index] if index < len(record) else ""


def _column_label(index: int, header: Sequence[str] | None, where: str) -> str:
    if header is None:
        label = f"column {index + 1} (no header)"
    elif title := _cell(header, index).strip(TRIM_CHARS):
        label = f'header "{clip(title, SAMPLE_VALUE_LENGTH)}"'
    else:
        label = f"column {index + 1} (blank header)"
    return label + where


def _candidate_columns(
    header: Sequence[str] | None, sample: list[Sequence[str]], width: int
) -> list[int]:
    looks_like_email = []
    for index in range(width):
        values = [value for record in sample if (value := _cell(record, index).strip(TRIM_CHARS))]
        with_at = sum(1 for value in values if "@" in value)
        if with_at * 2 > len(values) and any(is_address(value) for value in values):
            looks_like_email.append(index)
    if header is None:
        return looks_like_email
    named = [index for index in range(width) if is_email_header(_cell(header, index))]
    return [i for i in named if i in looks_like_email] or looks_like_email or named


def _candidates(head: "_Head", columns: list[int], where: str) -> list[ColumnCandidate]:
    return [
        ColumnCandidate(
            index=index,
            label=_column_label(index, head.header, where),
            samples=_samples(head.sample, index),
        )
        for index in columns
    ]


def _samples(sample: list[Sequence[str]], index: int) -> list[str]:
    values = (_cell(record, index).strip(TRIM_CHARS) for record in sample)
    found = (clip(value, SAMPLE_VALUE_LENGTH) for value in values if value)
    return list(islice(found, SAMPLES_PER_CANDIDATE))


class _Head:
    """The first records of a file: up to SAMPLE_RECORDS data records (plus the header).

    Records with nothing at all in them are kept as () (a file may start with very many).
    Raises ``IngestRefused`` when there is no data record.
    """

    def __init__(self, records: Iterator[Sequence[str]], empty_message: str) -> None:
        self.buffered: list[Sequence[str]] = []
        non_blank = 0
        for record in records:
            if is_blank(record):
                self.buffered.append(record if any(record) else ())
                continue
            self.buffered.append(record)
            non_blank += 1
            if non_blank > SAMPLE_RECORDS:
                break
        buffered = self.buffered
        first = next((i for i, record in enumerate(buffered) if not is_blank(record)), None)
        if first is None:
            raise IngestRefused(empty_message)
        self.first = first
        self.header = buffered[first] if looks_like_header(buffered[first]) else None
        self.data_start = first + 1 if self.header is not None else first
        self.sample = [record for record in buffered[self.data_start :] if not is_blank(record)]
        if not self.sample:
            raise IngestRefused(HEADER_ONLY)
        self.width = max(len(record) for record in buffered)


def email_column_candidates(
    records: Iterator[Sequence[str]], *, where: str
) -> list[ColumnCandidate]:
    """The columns of ``records`` that could hold the addresses, judged as ``tally_records``
    judges them from the first records; [] when there are none (or no data)."""
    try:
        head = _Head(records, EMPTY_FILE)
    except IngestRefused:
        return []
    return _candidates(head, _candidate_columns(head.header, head.sample, head.width), where)


def tally_records(
    records: Iterator[Sequence[str]],
    *,
    column: int | None,
    max_rows: int,
    too_many_message: str,
    empty_message: str = EMPTY_FILE,
    where: str = "",
    check_mixed_encoding: bool = False,
    progress: Progress = no_progress,
) -> tuple[Tally, str, bool]:
    """Find the header and the email column, then account for every data record.

    ``records`` yields the records in file order (record n is row n). ``column`` is the
    0-based column the operator chose, or None to detect it. ``where`` is appended to the
    column label (the sheet of a workbook). ``progress`` hears of the rows read every
    ``PROGRESS_EVERY_ROWS``.

    Returns ``(tally, column_label, has_header)``. Raises ``IngestRefused`` (the file is
    empty, has only a header, has no email column, has too many rows, or ``column`` is out
    of range) or ``ColumnChoiceNeeded``.
    """
    head = _Head(records, empty_message)
    header, data_start = head.header, head.data_start
    if column is None:
        columns = _candidate_columns(header, head.sample, head.width)
        if not columns:
            raise IngestRefused(NO_EMAIL_COLUMN)
        if len(columns) > 1:
            raise ColumnChoiceNeeded(_candidates(head, columns, where))
        column = columns[0]
    elif not 0 <= column < head.width:
        count = "1 column" if head.width == 1 else f"{head.width:,} columns"
        raise IngestRefused(COLUMN_OUT_OF_RANGE.format(number=column + 1, count=count))
    if header is not None and not _cell(header, column).strip(TRIM_CHARS):
        header, data_start = None, head.first

    tally = Tally(
        max_rows=max_rows,
        too_many_message=too_many_message,
        check_mixed_encoding=check_mixed_encoding,
    )
    progress(READING_ROWS, 0)
    _account(chain(head.buffered[data_start:], records), data_start + 1, column, tally, progress)
    return tally, _column_label(column, header, where), header is not None


def _account(
    records: Iterable[Sequence[str]],
    first_row: int,
    column: int,
    tally: Tally,
    progress: Progress,
) -> None:
    # The hot loop: one iteration per record of the file, so it keeps to locals.
    add = tally.add
    trim = TRIM_CHARS
    max_cell = MAX_CELL_LENGTH
    row = first_row - 1
    blank_run = 0  # blank records seen since the last non-blank one
    blank_values: dict[int, str] = {}  # their email cells, when not just ""
    for record in records:
        row += 1
        if not row % PROGRESS_EVERY_ROWS:
            progress(READING_ROWS, row)
        try:
            value = record[column]
        except IndexError:
            value = ""
        trimmed = value.strip(trim)
        if not trimmed and is_blank(record):
            blank_run += 1
            if value:
                blank_values[row] = value
            continue
        if blank_run:
            # Blank records between data records are rows; trailing ones never get here.
            for blank_row in range(row - blank_run, row):
                tally.add_empty(blank_row, blank_values.get(blank_row, ""))
            blank_run = 0
            blank_values.clear()
        if max(map(len, record)) > max_cell:
            longest = max(map(len, record))
            tally.add_unused(row, value, REASON_CELL_TOO_LONG.format(length=longest))
        elif trimmed:
            add(row, value, trimmed)
        else:
            tally.add_empty(row, value)
