"""Exports at scale: only what was asked for, every format streamed in flat memory."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from suppression_admin.audit.models import Provider
from suppression_admin.audit.services import ItemDraft
from tests.audit_factories import record_operation

pytestmark = pytest.mark.django_db

CSV_URL = reverse("audit:export_csv")
JSONL_URL = reverse("audit:export_jsonl")


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def csv_items(response) -> list[tuple[str, str]]:
    rows = list(csv.DictReader(io.StringIO(body(response))))
    return [(row["operation_id"], row["item_identifier"]) for row in rows]


def emails(operator, *addresses: str, **kwargs):
    return record_operation(
        operator, [ItemDraft(a) for a in addresses], provider=Provider.WOODPECKER, **kwargs
    )


def test_an_identifier_search_exports_the_matching_items_or_all_on_request(
    auditor_client, operator
):
    one = emails(operator, "a@example.com", "ann@example.com", "b@example.com")
    two = emails(operator, "ANN@example.com", "c@example.com")
    emails(operator, "d@example.com")
    asked = {"identifier": "ann@example.com"}
    assert csv_items(auditor_client.get(CSV_URL, asked)) == [
        (str(two.pk), "ANN@example.com"),
        (str(one.pk), "ann@example.com"),
    ]
    every = csv_items(auditor_client.get(CSV_URL, {**asked, "all_items": "1"}))
    assert every == [
        (str(two.pk), "ANN@example.com"),
        (str(two.pk), "c@example.com"),
        (str(one.pk), "a@example.com"),
        (str(one.pk), "ann@example.com"),
        (str(one.pk), "b@example.com"),
    ]
    lines = body(auditor_client.get(JSONL_URL, {"identifier": "ann", "match": "prefix"}))
    found = [json.loads(line) for line in lines.splitlines()]
    assert [[i["identifier"] for i in line["items"]] for line in found] == [
        ["ANN@example.com"],
        ["ann@example.com"],
    ]


def test_the_excel_csv_starts_with_the_byte_order_mark(auditor_client, operator):
    emails(operator, "zoë@example.com")
    plain = auditor_client.get(CSV_URL).streaming_content
    excel = b"".join(auditor_client.get(CSV_URL, {"bom": "1"}).streaming_content)
    assert not next(iter(plain)).startswith(b"\xef\xbb\xbf")
    assert excel.startswith(b"\xef\xbb\xbfoperation_id,")
    assert "zoë@example.com" in excel.decode("utf-8-sig")


def test_jsonl_is_one_valid_object_per_operation_with_items_and_calls(auditor_client, operator):
    first = emails(operator, "a@example.com", "b@example.com", extra_calls=["verify"])
    empty = record_operation(operator, [])
    response = auditor_client.get(JSONL_URL)
    assert response["Content-Type"].startswith("application/jsonl")
    assert response["Content-Disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in body(response).splitlines()]
    assert [line["id"] for line in lines] == [empty.pk, first.pk]
    assert lines[0]["items"] == lines[0]["calls"] == []
    assert [i["identifier"] for i in lines[1]["items"]] == ["a@example.com", "b@example.com"]
    assert [c["method"] for c in lines[1]["calls"]] == ["DELETE", "GET"]


def test_an_operation_bigger_than_a_batch_is_streamed_alone_in_order(
    auditor_client, operator, monkeypatch
):
    monkeypatch.setattr("suppression_admin.audit.streams.BATCH_ROWS", 4)
    monkeypatch.setattr("suppression_admin.audit.streams.STREAM_CHUNK", 3)
    small = emails(operator, "s1@example.com")
    big = emails(operator, *(f"b{i:02}@example.com" for i in range(10)))
    last = emails(operator, "s2@example.com")
    response = auditor_client.get(CSV_URL)
    with CaptureQueriesContext(connection) as queries:
        rows = csv_items(response)
    assert rows == [
        (str(last.pk), "s2@example.com"),
        *[(str(big.pk), f"b{i:02}@example.com") for i in range(10)],
        (str(small.pk), "s1@example.com"),
    ]
    big_reads = [q for q in queries if f'"operation_id" = {big.pk}' in q["sql"]]
    together = [q for q in queries if '"operation_id" IN' in q["sql"]]
    # The big one on its own query (read through a cursor, a chunk at a time), the small
    # ones around it in one query each side of it.
    assert len(big_reads) == 1
    assert len(together) == 2


def run_export(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("export_audit", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_export_audit_takes_the_pages_filters(operator):
    one = emails(operator, "ann@example.com", "b@example.com", ticket="SUP-1")
    two = emails(operator, "ann@example.com", ticket="SUP-2", reason="blocked by mistake")
    found = run_export("--identifier", "ANN@example.com")
    assert [(line["id"], len(line["items"])) for line in found] == [(one.pk, 1), (two.pk, 1)]
    every = run_export("--identifier", "ann@example.com", "--all-items")
    assert [(line["id"], len(line["items"])) for line in every] == [(one.pk, 2), (two.pk, 1)]
    assert [line["id"] for line in run_export("--ticket", "SUP-2")] == [two.pk]
    assert len(run_export("--ticket", "SUP", "--match", "prefix")) == 2
    assert [line["id"] for line in run_export("--reason", "mistake")] == [two.pk]
    with pytest.raises(CommandError, match="Provider: Select a valid choice"):
        run_export("--provider", "nope")


def test_a_jsonl_line_stays_one_line_whatever_the_text(auditor_client, operator):
    emails(operator, "a@example.com", reason="one\u2028two\u2029three\x85four")
    emails(operator, "b@example.com")
    text = body(auditor_client.get(JSONL_URL))
    assert len(text.splitlines()) == 2
    assert [json.loads(line)["reason"] for line in text.splitlines()][1] == (
        "one\u2028two\u2029three\x85four"
    )


def test_an_identifier_that_names_nobody_is_a_filter_error_not_everything(auditor_client, operator):
    emails(operator, "a@example.com")
    response = auditor_client.get(CSV_URL, {"identifier": "linkedin.com/in/%2F", "match": "prefix"})
    assert response.status_code == 400
    assert "names no email address" in response.content.decode()
