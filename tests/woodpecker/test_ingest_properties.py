"""Properties: whatever the bytes, ingest refuses or accounts for every row; round trips."""

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suppression_admin.woodpecker.ingest import IngestRefused, ingest_pasted, ingest_upload
from suppression_admin.woodpecker.ingest.addresses import normalise

from .ingest_support import assert_accounted

DELIMITERS = [",", ";", "\t"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Cell values that stress parsing: quotes, delimiters, line breaks, unicode, near-addresses.
CELL = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=',;\t"\r\n @.<>:aéZ\u00a0\u200b', max_size=12),
    st.sampled_from(["ann@example.com", "ANN@example.com ", "<bob@example.org>", "x@@y", ""]),
    st.emails().map(lambda address: address[:60]),
)
# Addresses Django accepts, written as people do (mixed case).
LOCAL = st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\.[A-Za-z0-9_-]{1,6}){0,2}", fullmatch=True
)
DOMAIN = st.from_regex(
    r"([A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?\.){1,2}[A-Za-z]{2,5}", fullmatch=True
)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
# Names in the second column: anything encodable as cp1252, but never an "@".
NAME = st.text(
    alphabet=st.characters(codec="cp1252", exclude_characters="@\x00", exclude_categories=("Cs",)),
    max_size=15,
)


def detected_encoding(data: bytes, encoding: str) -> str:
    # Windows-1252 text is told apart from UTF-8 only by bytes that are not valid UTF-8.
    if encoding == "cp1252":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "cp1252"
        return "utf-8"
    return encoding


def outcome(data: bytes, **kwargs):
    """The result (checked) or the refusal; any other exception fails the test."""
    try:
        result = ingest_upload(io.BytesIO(data), filename="upload.csv", **kwargs)
    except IngestRefused as refusal:
        message = refusal.message
        assert message.endswith((".", "?")), message
        return None
    assert_accounted(result)
    return result


@FAST
@given(st.binary(max_size=400))
def test_random_bytes_are_refused_or_accounted_for(data):
    outcome(data)


@FAST
@given(
    st.lists(st.lists(CELL, min_size=1, max_size=4), min_size=1, max_size=15),
    st.sampled_from(DELIMITERS),
    st.sampled_from(["utf-8", "utf-16", "utf-8-sig"]),
    st.sampled_from(["\r\n", "\n", "\r"]),
    st.integers(min_value=0, max_value=3) | st.none(),
)
def test_random_cells_are_refused_or_accounted_for(rows, delimiter, encoding, newline, column):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    data = buffer.getvalue().encode(encoding, errors="surrogatepass")

    result = outcome(data, column=column)

    if result is not None:
        cells = {normalise(cell) for row in rows for cell in row}
        assert set(result.valid) <= cells


@FAST
@given(st.text(max_size=200))
def test_random_paste_is_refused_or_accounted_for(text):
    try:
        result = ingest_pasted(text)
    except IngestRefused:
        return
    assert_accounted(result)
    assert all(address in text.lower() for address in result.valid)


@FAST
@given(
    addresses=st.lists(ADDRESS, min_size=1, max_size=25),
    names=st.lists(NAME, min_size=25, max_size=25),
    delimiter=st.sampled_from(DELIMITERS),
    encoding=st.sampled_from(ENCODINGS),
    header=st.booleans(),
    with_names=st.booleans(),
)
def test_written_addresses_are_all_recovered(
    addresses, names, delimiter, encoding, header, with_names
):
    rows = [[name, address] for name, address in zip(names, addresses, strict=False)]
    if not with_names:
        rows = [[address] for _, address in rows]
    if header:
        rows.insert(0, ["Name", "Email"] if with_names else ["Email"])
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)

    data = buffer.getvalue().encode(encoding)

    result = outcome(data)

    assert result is not None
    expected = list(dict.fromkeys(address.lower() for address in addresses))
    assert result.valid == expected
    assert result.invalid == []
    assert len(result.duplicates) == len(addresses) - len(expected)
    assert result.has_header == header
    assert result.encoding == detected_encoding(data, encoding)
    assert result.delimiter == (delimiter if with_names else None)
