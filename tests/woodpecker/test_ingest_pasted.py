"""Pasted text: entries separated by commas, semicolons or whitespace, numbered by line."""

import pytest

from suppression_admin.woodpecker.ingest import IngestRefused, Limits, UnusedRow, ingest_pasted
from suppression_admin.woodpecker.ingest.addresses import REASON_INVALID
from suppression_admin.woodpecker.ingest.errors import PASTED_EMPTY

from .ingest_support import assert_accounted


def paste(text: str, **kwargs):
    result = ingest_pasted(text, **kwargs)
    assert_accounted(result)
    return result


def test_ingest_pasted_splits_on_commas_semicolons_and_whitespace():
    result = paste("ann@example.com, bob@example.com;cy@example.com\n\n dee@example.com\tnope\n")

    assert result.valid == [
        "ann@example.com",
        "bob@example.com",
        "cy@example.com",
        "dee@example.com",
    ]
    assert result.invalid == [UnusedRow(3, "nope", REASON_INVALID)]
    assert (result.rows, result.encoding, result.column_label) == (5, "text", "pasted text")
    assert (result.delimiter, result.has_header) == (None, False)


def test_ingest_pasted_reads_addresses_as_mail_programs_copy_them():
    result = paste('Ann Lee <ANN@example.com>; "Ray, Bob" <bob@example.com>')

    assert result.valid == ["ann@example.com", "bob@example.com"]
    # The comma inside the quoted name splits the entry; the stray half is reported.
    assert result.invalid == [UnusedRow(1, '"Ray', REASON_INVALID)]


def test_ingest_pasted_reports_duplicates_by_line():
    result = paste("ann@example.com\nbob@example.com\nAnn@Example.com ann@example.com")

    assert result.duplicates == [
        UnusedRow(3, "Ann@Example.com", "duplicate of row 1"),
        UnusedRow(3, "ann@example.com", "duplicate of row 1"),
    ]


def test_ingest_pasted_refuses_nothing():
    with pytest.raises(IngestRefused) as caught:
        paste(" \n ,; \u200b\n")

    assert caught.value.message == PASTED_EMPTY


def test_ingest_pasted_refuses_too_many_addresses():
    with pytest.raises(IngestRefused) as caught:
        paste("a@example.com b@example.com c@example.com", limits=Limits(max_rows=2))

    assert caught.value.message == "The pasted text has more than 2 addresses; the limit is 2."


def test_ingest_pasted_refuses_too_much_text():
    with pytest.raises(IngestRefused) as caught:
        paste("é" * 1024, limits=Limits(max_bytes=2000))

    assert caught.value.message == "The pasted text is 2 KB; the limit is 1.9 KB."
