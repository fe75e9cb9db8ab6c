"""Email addresses: normalising, validating, and tallying rows into valid / invalid / duplicate.

Validation is Django's ``EmailValidator`` (``validate_email``). It costs about 5 µs a call,
too slow for a million rows, so a compiled regex accepts first the common case: a plain
ASCII ``dot-atom@host.tld`` address. That regex is Django's own user and domain patterns
restricted to lowercase ASCII, so everything it accepts Django accepts too (a property test
checks this); everything else goes to Django. The verdict is therefore always Django's.

On top of Django's verdict an address is refused when it holds U+FFFD (a byte the decoder
could not read), a control or text-direction character, or an invisible or non-ASCII space
character, and when its domain is not a valid internationalised domain name. Django's
domain pattern allows most of Unicode (``test@␇.org`` passes it), but a mail system looks a
domain up by its IDNA 2008 form: a domain with a non-ASCII letter must convert to one, and
an ``xn--`` label must decode from one. ``tests/woodpecker/test_isemail.py`` holds the
published isemail test set against this verdict, and names the legal-but-exotic forms we
refuse.
"""

import re
import unicodedata

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from suppression_admin.outside_text import has_unsafe, safe_text

from .errors import IngestRefused
from .result import MAX_REPORTED_VALUE, IngestResult, UnusedRow

# Stripped from both ends of a value: whitespace (including no-break and other Unicode
# spaces) and the invisible characters that copy-paste drags along.
TRIM_CHARS = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u180e"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u200b\u200c\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)
# RFC 5321's limits, which mail servers enforce: the path holds at most 256 octets, two of
# them the angle brackets; the local part at most 64.
MAX_ADDRESS_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64

REASON_EMPTY = "empty"
REASON_INVALID = "not a valid email address"
REASON_UNDECODABLE = "contains a character that could not be read (check the file's encoding)"
REASON_INVISIBLE = "contains a space or an invisible character"
REASON_TOO_LONG = "longer than an email address can be (254 characters, 64 before the @)"
REASON_DOMAIN = "the domain is not a valid internationalised domain name"
REASON_CONTROL = "contains a control or text-direction character (shown as \ufffd)"
REASON_MIXED_ENCODING = "could not be read reliably: the file mixes UTF-8 and Windows-1252 text"
DUPLICATE_OF = "duplicate of row {row}"

# Django's EmailValidator.user_regex (dot-atom branch) and domain_regex, lowercase ASCII only.
_LOCAL_PART = r"[-!#$%&'*+/=?^_`{}|~0-9a-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*"
_DOMAIN = (
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*"
    r"\.(?!-)(?:[a-z-]{2,63}|xn--[a-z0-9]{1,59})(?<!-)"
)
_fast_valid = re.compile(
    f"(?=[^@]{{1,{MAX_LOCAL_PART_LENGTH}}}@)" + _LOCAL_PART + "@" + _DOMAIN
).fullmatch


def clip(value: str, length: int = MAX_REPORTED_VALUE) -> str:
    """``value`` as reported: control and text-direction characters shown as U+FFFD (see
    ``outside_text``), cut to ``length`` characters (the last one an ellipsis)."""
    value = safe_text(value)
    if len(value) <= length:
        return value
    return value[: length - 1] + "…"


def normalise(value: str) -> str:
    """Trim (whitespace and invisible characters), unwrap ``<…>`` and ``mailto:``, lowercase.

    Lowercasing uses ``str.lower`` rather than ``casefold`` so no letter turns into others
    (``ß`` stays ``ß``). Non-ASCII text is put in Unicode's composed form (NFC): "é" typed
    as "e" and an accent (as macOS writes names) is the same address as "é".
    """
    text = value.strip(TRIM_CHARS)
    if text[:1] == "<" and text[-1:] == ">":
        text = text[1:-1].strip(TRIM_CHARS)
    if text[:7].lower() == "mailto:":
        text = text[7:].strip(TRIM_CHARS)
        if text[:1] == "<" and text[-1:] == ">":
            text = text[1:-1].strip(TRIM_CHARS)
    text = text.lower()
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _django_accepts(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


_IPV4_LITERAL = re.compile(r"\[[0-9.]+\]").fullmatch


def _idna_domain(domain: str) -> bool:
    """Whether a domain Django accepted is one a mail system can look up (see the module)."""
    if domain.startswith("["):
        # An address literal: Django has checked the IP address; only IPv4 is written
        # without the "IPv6:" tag SMTP requires (and Django refuses the tagged form).
        return _IPV4_LITERAL(domain) is not None
    for label in domain.split("."):
        try:
            if not label.isascii():
                idna.alabel(label)  # it must convert to an "xn--" label …
            elif label.startswith("xn--"):
                idna.ulabel(label)  # … and an "xn--" label must convert back
        except (idna.IDNAError, UnicodeError):
            return False
    return True


def _is_utf8_read_as_cp1252(value: str) -> bool:
    # "exÃ¤mple" is "exämple" UTF-8-encoded and then read as Windows-1252. Genuine
    # Windows-1252 text almost never re-reads as valid UTF-8, so this flags mixed files.
    try:
        return value.encode("cp1252").decode("utf-8") != value
    except UnicodeError:
        return False


def check(value: str, *, check_mixed_encoding: bool = False) -> tuple[str, str]:
    """Normalise and validate one value.

    Returns ``(address, "")`` when usable, else ``("", reason)`` with a reason from this
    module (``REASON_*``). ``check_mixed_encoding`` flags non-ASCII values that look like
    UTF-8 read as Windows-1252 (set it when the file was decoded as cp1252).
    """
    address = normalise(value)
    if not address:
        return "", REASON_EMPTY if not value.strip(TRIM_CHARS) else REASON_INVALID
    if len(address) <= MAX_ADDRESS_LENGTH and _fast_valid(address) and "xn--" not in address:
        return address, ""
    if "\ufffd" in address:
        return "", REASON_UNDECODABLE
    if has_unsafe(address):
        return "", REASON_CONTROL
    if not address.isprintable():
        return "", REASON_INVISIBLE
    if not _django_accepts(address):
        return "", REASON_INVALID
    if check_mixed_encoding and not address.isascii() and _is_utf8_read_as_cp1252(value):
        return "", REASON_MIXED_ENCODING
    local_part, _, domain = address.rpartition("@")
    if len(address) > MAX_ADDRESS_LENGTH or len(local_part) > MAX_LOCAL_PART_LENGTH:
        return "", REASON_TOO_LONG
    if not _idna_domain(domain):
        return "", REASON_DOMAIN
    return address, ""


def is_address(value: str) -> bool:
    """Whether ``value`` normalises to a valid address."""
    return bool(check(value)[0])


class Tally:
    """Accounts for rows one by one; the hot loop of every ingest.

    Each call to ``add`` or ``add_empty`` counts one row and files it under exactly one of
    ``valid``, ``invalid`` or ``duplicates``. Counting past ``max_rows`` raises
    ``IngestRefused(too_many_message)`` at once, so reading stops there.
    """

    __slots__ = (
        "_check_mixed",
        "_first_row",
        "_max_rows",
        "_too_many_message",
        "duplicates",
        "invalid",
        "rows",
        "valid",
    )

    def __init__(
        self, *, max_rows: int, too_many_message: str, check_mixed_encoding: bool = False
    ) -> None:
        self.rows = 0
        self.valid: list[str] = []
        self.invalid: list[UnusedRow] = []
        self.duplicates: list[UnusedRow] = []
        # address -> row of its first occurrence; keys are the very strings in ``valid``.
        self._first_row: dict[str, int] = {}
        self._max_rows = max_rows
        self._too_many_message = too_many_message
        self._check_mixed = check_mixed_encoding

    def add(self, row: int, value: str, trimmed: str) -> None:
        """Account for row ``row`` whose raw value is ``value``.

        ``trimmed`` is ``value.strip(TRIM_CHARS)`` and must not be empty (the caller has
        computed it to tell empty cells apart; use ``add_empty`` for those).
        """
        rows = self.rows + 1
        if rows > self._max_rows:
            raise IngestRefused(self._too_many_message)
        self.rows = rows
        address = trimmed.lower()
        # Fast path, see the module docstring; ``check`` gives the same answer, slower.
        if len(address) > MAX_ADDRESS_LENGTH or not _fast_valid(address) or "xn--" in address:
            address, reason = check(value, check_mixed_encoding=self._check_mixed)
            if reason:
                self.invalid.append(UnusedRow(row, clip(value), reason))
                return
        first = self._first_row.setdefault(address, row)
        if first == row:
            self.valid.append(address)
        else:
            self.duplicates.append(UnusedRow(row, clip(value), DUPLICATE_OF.format(row=first)))

    def add_empty(self, row: int, value: str = "") -> None:
        """Account for row ``row`` whose email cell is empty (or blank)."""
        self.add_unused(row, value, REASON_EMPTY)

    def add_unused(self, row: int, value: str, reason: str) -> None:
        """Account for row ``row`` as unusable for ``reason``, whatever its value."""
        rows = self.rows + 1
        if rows > self._max_rows:
            raise IngestRefused(self._too_many_message)
        self.rows = rows
        self.invalid.append(UnusedRow(row, clip(value), reason))

    def result(
        self, *, column_label: str, encoding: str, delimiter: str | None, has_header: bool
    ) -> IngestResult:
        """What was tallied, with how it was read."""
        return IngestResult(
            rows=self.rows,
            valid=self.valid,
            invalid=self.invalid,
            duplicates=self.duplicates,
            column_label=column_label,
            encoding=encoding,
            delimiter=delimiter,
            has_header=has_header,
        )
