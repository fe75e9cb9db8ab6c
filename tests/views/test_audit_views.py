"""Audit pages: list + filters + HTMX fragment, detail, CSV export, access, and the admin."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from suppression_admin.audit.csv_export import HEADER, neutralise
from suppression_admin.audit.forms import DATES_REVERSED
from suppression_admin.audit.models import ItemOutcome, Operation, Provider
from suppression_admin.audit.services import ItemDraft
from tests.audit_factories import record_operation
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

LIST_URL = reverse("audit:operations")
EXPORT_URL = reverse("audit:export_csv")
HTMX = {"HX-Request": "true", "HX-Target": "results"}


def lead(lead_id: str, slug: str, reason: str = "") -> ItemDraft:
    return ItemDraft(identifier=lead_id, label=slug, original_reason=reason)


def row_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'href="/audit/(\d+)/"', response.content.decode())]


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# --- list ----------------------------------------------------------------------------------


def test_operations_full_page_lists_with_columns(auditor_client, operator):
    operation = record_operation(operator, [lead("101", "maria-gonzalez"), lead("102", "li-wei")])
    response = auditor_client.get(LIST_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert 'name="identifier"' in html
    assert row_ids(response) == [operation.pk]
    assert operation.actor_username in html
    assert operation.created_at.strftime("%Y-%m-%d %H:%M:%S") in html
    assert "Succeeded" in html
    assert "2 / 2" in html
    assert "invalid-items" not in html


def test_the_list_says_how_many_items_were_never_sendable(auditor_client, operator):
    items = [ItemDraft(identifier=f"p{n}@example.com") for n in range(5)]
    outcomes = [ItemOutcome.REMOVED] * 3 + [ItemOutcome.INVALID] * 2
    record_operation(operator, items, provider=Provider.WOODPECKER, outcomes=outcomes)
    html = auditor_client.get(LIST_URL).content.decode()
    assert "3 / 5" in html
    assert "(2 invalid, never sendable)" in html


def test_operations_htmx_returns_only_the_results_fragment(auditor_client, operator):
    operation = record_operation(operator, [lead("101", "maria-gonzalez")])
    response = auditor_client.get(LIST_URL, {"identifier": "maria-gonzalez"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="results">')
    assert "<html" not in html
    assert 'name="identifier"' not in html
    assert row_ids(response) == [operation.pk]
    assert {"HX-Request", "HX-Target"} <= {h.strip() for h in response["Vary"].split(",")}


def test_operations_htmx_aimed_elsewhere_gets_the_full_page(auditor_client, operator):
    record_operation(operator, [lead("101", "maria-gonzalez")])
    response = auditor_client.get(LIST_URL, headers={"HX-Request": "true"})
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"identifier": "MARIA-gonzalez"}, {"maria_1", "maria_2"}),
        ({"identifier": "ann@example.com"}, {"ann"}),
        ({"actor": "aaron"}, {"maria_2"}),
        ({"provider": "woodpecker"}, {"ann"}),
        ({"status": "failed"}, {"li"}),
        ({"date_from": "2025-03-02", "date_to": "2025-03-02"}, {"maria_2"}),
    ],
)
def test_operations_each_filter(auditor_client, operator, auditor, params, expected):
    made = {
        "maria_1": record_operation(
            operator, [lead("101", "maria-gonzalez")], created_at=datetime(2025, 3, 1, tzinfo=UTC)
        ),
        "maria_2": record_operation(
            auditor, [lead("101", "maria-gonzalez")], created_at=datetime(2025, 3, 2, tzinfo=UTC)
        ),
        "li": record_operation(operator, [lead("102", "li-wei")], outcome=ItemOutcome.FAILED),
        "ann": record_operation(
            operator, [ItemDraft("ann@example.com")], provider=Provider.WOODPECKER
        ),
    }
    response = auditor_client.get(LIST_URL, params)
    assert set(row_ids(response)) == {made[name].pk for name in expected}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2025-03-10", "date_to": "2025-03-01"}, DATES_REVERSED),
        ({"date_from": "2025-13-45"}, "Enter a date as YYYY-MM-DD."),
        ({"date_to": "yesterday"}, "Enter a date as YYYY-MM-DD."),
        ({"provider": "nope"}, "Select a valid choice."),
        ({"identifier": "x" * 600}, "at most 500 characters"),
        ({"match": "contains"}, "Select a valid choice."),
    ],
)
def test_operations_bad_filters_show_a_form_error(auditor_client, operator, params, message):
    record_operation(operator, [lead("101", "maria-gonzalez")])
    for headers in ({}, HTMX):
        response = auditor_client.get(LIST_URL, params, headers=headers)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-testid="filter-errors"' in html
        assert message.replace("“", "&ldquo;") in html or message in html
        # No results for filters that could not be read: never the unfiltered list instead.
        assert row_ids(response) == []


def test_operations_paginates_by_50_and_links_keep_the_filters(auditor_client, operator, auditor):
    mine = [record_operation(operator, [lead(str(n), f"lead-{n}")]) for n in range(55)]
    record_operation(auditor, [lead("999", "someone-else")])

    first = auditor_client.get(LIST_URL, {"actor": "olivia", "provider": "walead"})
    assert len(row_ids(first)) == 50
    html = first.content.decode()
    next_link = re.search(r'href="(\?[^"]*page=2[^"]*)"', html)
    assert next_link is not None
    query = next_link.group(1).replace("&amp;", "&")
    assert "actor=olivia" in query
    assert "provider=walead" in query

    second = auditor_client.get(LIST_URL + query)
    assert len(row_ids(second)) == 5
    assert set(row_ids(first)) | set(row_ids(second)) == {op.pk for op in mine}
    assert "Page 2 of 2" in second.content.decode()
    # A page number out of range or garbled shows the nearest page instead of failing.
    assert len(row_ids(auditor_client.get(LIST_URL, {"page": "99"}))) == 56 - 50
    assert len(row_ids(auditor_client.get(LIST_URL, {"page": "abc"}))) == 50


def test_operations_query_count_does_not_grow_with_rows(
    auditor_client, operator, django_assert_max_num_queries
):
    record_operation(operator, [lead("1", "one")])
    with CaptureQueriesContext(connection) as few:
        auditor_client.get(LIST_URL)
    for n in range(60):
        record_operation(operator, [lead(str(n), f"lead-{n}"), ItemDraft(f"{n}@example.com")])
    with django_assert_max_num_queries(len(few)):
        response = auditor_client.get(LIST_URL)
    assert len(row_ids(response)) == 50
    assert len(few) <= 8


def test_operations_export_link_carries_the_filters(auditor_client, operator):
    record_operation(operator, [lead("101", "maria-gonzalez")])
    response = auditor_client.get(LIST_URL, {"identifier": "maria", "status": "succeeded"})
    link = re.search(r'href="(/audit/export\.csv\?[^"]*)"', response.content.decode())
    assert link is not None
    assert "identifier=maria" in link.group(1)
    assert "status=succeeded" in link.group(1)


# --- detail --------------------------------------------------------------------------------


def test_operation_detail_shows_facts_items_and_calls(auditor_client, operator):
    operation = record_operation(
        operator,
        [lead("101", "maria-gonzalez", "Asked to stop"), lead("102", "li-wei")],
        reason="Customer wrote in",
        ticket="SUP-42",
        detail="unblocked at WaLead",
        source_detail={"page": "blocked-leads"},
        client_ip="203.0.113.9",
        user_agent="Firefox/140",
        purpose="Unblock the selected leads",
        path="/blocked-leads",
        request_body='{"ids": [1]}',
        answer_excerpt='{"deleted": 1}',
        duration_ms=37,
    )
    response = auditor_client.get(reverse("audit:operation_detail", args=[operation.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "olivia.operator",
        "Customer wrote in",
        "SUP-42",
        "203.0.113.9",
        "Firefox/140",
        "blocked-leads",
        "maria-gonzalez",
        "li-wei",
        "Asked to stop",
        "unblocked at WaLead",
        "Unblock the selected leads",
        "DELETE /blocked-leads",
        "37 ms",
        '<pre class="excerpt">{&quot;deleted&quot;: 1}</pre>',
        "<details><summary>Request body</summary>",
        'href="#call-1"',
        Operation.objects.get(pk=operation.pk).summary,
    ):
        assert text in html, text


def test_operation_detail_unknown_is_404(auditor_client):
    assert auditor_client.get(reverse("audit:operation_detail", args=[987654])).status_code == 404


def test_operation_detail_queries_are_bounded(
    auditor_client, operator, django_assert_max_num_queries
):
    small = record_operation(operator, [lead("1", "one")])
    big = record_operation(operator, [lead(str(n), f"lead-{n}") for n in range(40)])
    with CaptureQueriesContext(connection) as few:
        auditor_client.get(reverse("audit:operation_detail", args=[small.pk]))
    with django_assert_max_num_queries(len(few)):
        auditor_client.get(reverse("audit:operation_detail", args=[big.pk]))


# --- CSV export ----------------------------------------------------------------------------


def test_export_csv_streams_one_row_per_item(auditor_client, operator):
    two = record_operation(
        operator,
        [lead("101", "maria-gonzalez", "Asked to stop"), lead("102", "li-wei")],
        client_ip="203.0.113.9",
    )
    empty = record_operation(operator, [])
    response = auditor_client.get(EXPORT_URL)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert re.fullmatch(
        r'attachment; filename="audit-\d{8}-\d{6}\.csv"', response["Content-Disposition"]
    )
    rows = csv_rows(response)
    assert rows[0] == list(HEADER)
    body = [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]
    assert [(r["operation_id"], r["item_identifier"]) for r in body] == [
        (str(empty.pk), ""),
        (str(two.pk), "101"),
        (str(two.pk), "102"),
    ]
    stored = Operation.objects.get(pk=two.pk)
    first = body[1]
    assert first["created_at"] == stored.created_at.isoformat()
    assert first["finished_at"] == stored.finished_at.isoformat()
    assert first["actor"] == "olivia.operator"
    assert first["status"] == stored.status_label
    assert first["item_label"] == "maria-gonzalez"
    assert first["original_reason"] == "Asked to stop"
    assert first["outcome"] == "Unblocked"
    assert first["client_ip"] == "203.0.113.9"


def test_export_csv_applies_the_filters(auditor_client, operator):
    maria = record_operation(operator, [lead("101", "maria-gonzalez")])
    record_operation(operator, [lead("102", "li-wei")])
    rows = csv_rows(auditor_client.get(EXPORT_URL, {"identifier": "maria-gonzalez"}))
    assert [row[0] for row in rows[1:]] == [str(maria.pk)]


def test_export_csv_neutralises_formulas(auditor_client, operator):
    record_operation(
        operator,
        [lead("101", "@SUM(1)", "+1 call me"), lead("102", "\tsafe")],
        reason='=HYPERLINK("x")',
        ticket="-2",
        detail="\rcarriage",
    )
    rows = [
        dict(zip(HEADER, row, strict=True)) for row in csv_rows(auditor_client.get(EXPORT_URL))[1:]
    ]
    assert rows[0]["reason"] == '\'=HYPERLINK("x")'
    assert rows[0]["ticket"] == "'-2"
    assert rows[0]["item_label"] == "'@SUM(1)"
    assert rows[0]["original_reason"] == "'+1 call me"
    assert rows[0]["detail"] == "'\rcarriage"
    assert rows[1]["item_label"] == "'\tsafe"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (42, "42"),
        ("-", "'-"),
        ("  =1+1", "'  =1+1"),
        ("\n\t@SUM(A1)", "'\n\t@SUM(A1)"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("\uff0b1", "'\uff0b1"),
        ("\uff0d1", "'\uff0d1"),
        ("\uff20x", "'\uff20x"),
        (" \uff1dx", "' \uff1dx"),
        ("a \uff1d b", "a \uff1d b"),
        ("  ", "  "),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_export_csv_queries_do_not_grow_with_rows(auditor_client, operator):
    record_operation(operator, [lead("1", "one")])
    with CaptureQueriesContext(connection) as few:
        csv_rows(auditor_client.get(EXPORT_URL))
    for n in range(30):
        record_operation(operator, [lead(str(n), f"lead-{n}"), ItemDraft(f"{n}@example.com")])
    with CaptureQueriesContext(connection) as many:
        rows = csv_rows(auditor_client.get(EXPORT_URL))
    assert len(rows) == 1 + 1 + 60
    assert len(many) == len(few)


def test_export_csv_reads_the_database_while_streaming_in_chunks(
    auditor_client, operator, monkeypatch
):
    monkeypatch.setattr("suppression_admin.audit.streams.BATCH_OPERATIONS", 2)
    for n in range(5):
        record_operation(operator, [lead(str(n), f"lead-{n}")])
    response = auditor_client.get(EXPORT_URL)
    with CaptureQueriesContext(connection) as streaming:
        rows = csv_rows(response)
    assert len(rows) == 1 + 5
    item_queries = [q for q in streaming if '"audit_operationitem"."operation_id" IN' in q["sql"]]
    # Nothing was loaded before the body was read, then items came per batch of 2 operations.
    assert len(item_queries) == 3


def test_export_csv_bad_filters_is_400_not_everything(auditor_client, operator):
    record_operation(operator, [lead("101", "maria-gonzalez")])
    response = auditor_client.get(EXPORT_URL, {"date_from": "2025-02-30"})
    assert response.status_code == 400
    assert "maria" not in response.content.decode()


# --- access --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["audit:operations", "audit:export_csv", "audit:operation_detail"])
def test_audit_pages_refuse_operators_and_ask_anonymous_to_log_in(client, operator, name):
    operation = record_operation(operator, [lead("101", "maria-gonzalez")])
    url = reverse(name, args=[operation.pk] if name.endswith("detail") else [])
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    client.force_login(operator)
    assert client.get(url).status_code == 403
    client.force_login(make_user("nina.norole"))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("name", ["audit:operations", "audit:export_csv"])
def test_audit_pages_are_get_only(auditor_client, name):
    assert auditor_client.post(reverse(name)).status_code == 405


# --- admin ---------------------------------------------------------------------------------


def test_admin_superuser_can_view_but_not_write(admin_client, operator):
    operation = record_operation(operator, [lead("101", "maria-gonzalez")])
    base = "/admin/audit/operation/"
    changelist = admin_client.get(base)
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    page = admin_client.get(f"{base}{operation.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.get(f"{base}{operation.pk}/delete/").status_code == 403
    assert admin_client.post(f"{base}{operation.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        base, {"action": "delete_selected", "_selected_action": [operation.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert Operation.objects.filter(pk=operation.pk).exists()


def test_admin_post_to_change_page_changes_nothing(admin_client, operator):
    operation = record_operation(operator, [lead("101", "maria-gonzalez")], reason="original")
    url = f"/admin/audit/operation/{operation.pk}/change/"
    assert admin_client.post(url, {"reason": "rewritten"}).status_code == 403
    assert Operation.objects.get(pk=operation.pk).reason == "original"


def test_admin_links_to_the_paged_items_instead_of_rendering_them(client, operator):
    staff = make_user("sam.staff")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_operation"))
    operation = record_operation(operator, [ItemDraft(f"p{i}@x.com") for i in range(300)])
    client.force_login(staff)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/admin/audit/operation/{operation.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "p0@x.com" not in html
    detail = reverse("audit:operation_detail", args=[operation.pk])
    assert f'<a href="{detail}">300 items and 1 call,' in html
    assert not [q for q in queries if "audit_operationitem" in q["sql"]]


def test_detail_of_a_large_operation_is_paged(auditor_client, operator):
    from suppression_admin.audit.views import ITEMS_PER_PAGE

    operation = record_operation(
        operator, [ItemDraft(f"p{i}@x.com") for i in range(ITEMS_PER_PAGE + 5)]
    )
    url = reverse("audit:operation_detail", args=[operation.pk])
    first = auditor_client.get(url).content.decode()
    assert "p0@x.com" in first
    assert f"p{ITEMS_PER_PAGE}@x.com" not in first
    assert f"of {ITEMS_PER_PAGE + 5}" in first
    second = auditor_client.get(url, {"items_page": 2}).content.decode()
    assert f"p{ITEMS_PER_PAGE}@x.com" in second
    assert "p0@x.com</a></td>" not in second


def test_detail_finds_an_address_in_a_big_operation(auditor_client, operator):
    operation = record_operation(
        operator,
        [ItemDraft(f"p{i}@x.com") for i in range(300)],
        provider=Provider.WOODPECKER,
    )
    url = reverse("audit:operation_detail", args=[operation.pk])
    exact = auditor_client.get(url, {"find": " P250@X.com "}).content.decode()
    assert ">p250@x.com</a></td>" in exact
    assert ">p0@x.com</a></td>" not in exact
    assert "Items 1\N{EN DASH}1 of 1 matching" in exact
    started = auditor_client.get(url, {"find": "p25", "match": "prefix"}).content.decode()
    found = re.findall(r">(p\d+@x\.com)</a></td>", started)
    assert found == ["p25@x.com", *(f"p{n}@x.com" for n in range(250, 260))]
    missing = auditor_client.get(url, {"find": "nobody@x.com"}).content.decode()
    assert 'data-testid="find-nothing"' in missing
    assert "nobody@x.com" in missing


def test_detail_counts_nothing_it_has_stored(auditor_client, operator):
    operation = record_operation(operator, [ItemDraft(f"p{i}@x.com") for i in range(5)])
    url = reverse("audit:operation_detail", args=[operation.pk])
    with CaptureQueriesContext(connection) as queries:
        html = auditor_client.get(url).content.decode()
    assert 'data-testid="item-total">5<' in html
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]
    listed = auditor_client.get(LIST_URL)
    assert listed.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        auditor_client.get(LIST_URL)
    counts = [q for q in queries if "COUNT(" in q["sql"].upper()]
    # The paginator's count of operations; never a count of items or calls.
    assert len(counts) == 1
    assert "audit_operationitem" not in counts[0]["sql"]


def test_detail_find_says_when_a_short_start_matched_too_much(
    auditor_client, operator, monkeypatch
):
    monkeypatch.setattr("suppression_admin.audit.selectors.FIND_SCAN", 3)
    monkeypatch.setattr("suppression_admin.audit.views.FIND_SCAN", 3)
    other = record_operation(operator, [ItemDraft(f"p{i}@x.com") for i in range(5)])
    mine = record_operation(operator, [ItemDraft("p9@x.com")])
    url = reverse("audit:operation_detail", args=[mine.pk])
    html = auditor_client.get(url, {"find": "p", "match": "prefix"}).content.decode()
    assert 'data-testid="find-cut-short"' in html
    assert "more than 3 items" in html
    exact = auditor_client.get(url, {"find": "p9@x.com"}).content.decode()
    assert 'data-testid="find-cut-short"' not in exact
    assert ">p9@x.com</a></td>" in exact
    assert other.pk != mine.pk
