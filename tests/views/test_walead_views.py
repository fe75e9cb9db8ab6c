import json
import re

import pytest
import responses
from django.urls import reverse

from suppression_admin.audit.models import ItemOutcome, Operation
from suppression_admin.jobs.models import Job
from suppression_admin.outside_text import has_unsafe
from suppression_admin.walead.forms import OPT_OUT_ACK_REQUIRED
from suppression_admin.walead.services import REASON_REQUIRED
from suppression_admin.walead.views import SELECTION_CHANGED
from tests.conftest import TEST_WALEAD_URL
from tests.woodpecker.factories import run


def run_the_job() -> Job:
    return run(Job.objects.get())


URL = f"{TEST_WALEAD_URL}/v1/blocked-leads"
HTMX = {"HX-Request": "true"}
pytestmark = pytest.mark.usefixtures("live_providers")


def lead(n: int, reason: str | None = "Existing client") -> dict:
    return {
        "id": f"id-{n}",
        "publicIdentifier": f"person-{n}",
        "reason": reason,
        "createdAt": "2025-06-01T10:00:00.000Z",
        "workspaceId": "w",
    }


def show_page(client, rows, **query):
    """The list, when WaLead answers ``rows`` and then an empty page (the end)."""
    responses.get(URL, json=rows)
    responses.get(URL, json=[])
    return client.get(reverse("walead:blocked_leads"), query)


def select(client, ids, page_ids):
    return client.post(reverse("walead:selection_update"), {"lead": ids, "page_id": page_ids})


def confirm_token(client) -> str:
    response = client.get(reverse("walead:unblock_confirm"))
    return response.context["form"].initial["token"]


@responses.activate
def test_list_shows_rows_with_profile_links_reason_and_date(operator_client):
    response = show_page(operator_client, [lead(1), lead(2, reason=None)], search="pers")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="https://www.linkedin.com/in/person-1/"' in html
    assert "Existing client" in html
    assert "2025-06-01" in html
    assert "<html" in html
    assert "search=pers" in responses.calls[0].request.url


@responses.activate
def test_htmx_search_returns_only_the_results_fragment(operator_client):
    responses.get(URL, json=[lead(1)])
    responses.get(URL, json=[])
    response = operator_client.get(
        reverse("walead:blocked_leads"), {"search": "p"}, headers={**HTMX, "HX-Target": "results"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert "<html" not in html
    assert "person-1" in html


@responses.activate
def test_opt_out_reasons_are_flagged_in_the_list(operator_client):
    html = show_page(operator_client, [lead(1, "Requested opt-out")]).content.decode()
    assert 'class="opt-out"' in html
    assert "asked not to be contacted" in html


@responses.activate
def test_a_page_holds_100_leads_read_over_as_many_walead_pages_as_it_takes(operator_client):
    for start in range(0, 125, 25):  # WaLead answers 25 a page
        responses.get(URL, json=[lead(n) for n in range(start, start + 25)])
    html = show_page(operator_client, [], offset=10).content.decode()
    offsets = [call.request.params["offset"] for call in responses.calls]
    assert offsets == ["10", "35", "60", "85"]  # by the rows received; no fifth page read
    assert html.count('name="page_id"') == 100
    assert "Showing 11–110" in html  # noqa: RUF001
    assert 'id="next-link" href="?search=&amp;sort=DESC&amp;offset=110"' in html
    assert 'href="?search=&amp;sort=DESC&amp;offset=0"' in html  # previous


@responses.activate
def test_a_short_page_is_the_last_no_next_link(operator_client):
    html = show_page(operator_client, [lead(1), lead(2), lead(3)], offset=10).content.decode()
    assert [call.request.params["offset"] for call in responses.calls] == ["10", "13"]
    assert "Showing 11–13" in html  # noqa: RUF001
    assert 'id="next-link"' not in html
    assert "next_shown" not in html  # so the count will not look for a Next to take away
    assert "offset=0" in html  # previous


@responses.activate
def test_empty_page_says_so(operator_client):
    html = show_page(operator_client, [], offset=25).content.decode()
    assert "No more blocked leads." in html


@responses.activate
def test_provider_error_is_shown_not_a_500(operator_client):
    responses.get(URL, status=401, json={"message": "Invalid API key"})
    response = operator_client.get(reverse("walead:blocked_leads"))
    assert response.status_code == 200
    assert "Invalid API key" in response.content.decode()


def test_unconfigured_provider_shows_not_configured(operator_client, settings):
    settings.WALEAD_API_KEY = ""
    response = operator_client.get(reverse("walead:blocked_leads"))
    assert response.status_code == 200
    assert "WaLead is not configured" in response.content.decode()


@responses.activate
def test_htmx_selection_update_returns_the_bar_with_the_count(operator_client):
    show_page(operator_client, [lead(1), lead(2), lead(3)])
    response = operator_client.post(
        reverse("walead:selection_update"),
        {"lead": ["id-1", "id-3"], "page_id": ["id-1", "id-2", "id-3"]},
        headers=HTMX,
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="selection-bar"')
    assert "2 selected" in html


@responses.activate
def test_selection_survives_paging_and_unticking_removes_only_that_page(operator_client):
    show_page(operator_client, [lead(1), lead(2)])
    select(operator_client, ["id-1", "id-2"], ["id-1", "id-2"])
    show_page(operator_client, [lead(3)], offset=2)
    select(operator_client, ["id-3"], ["id-3"])
    select(operator_client, ["id-1"], ["id-1", "id-2"])  # untick id-2 on page one
    assert operator_client.session["walead_selected"] == ["id-3", "id-1"]


@responses.activate
def test_ids_never_shown_cannot_be_selected(operator_client):
    show_page(operator_client, [lead(1)])
    select(operator_client, ["id-1", "forged"], ["id-1", "forged"])
    assert operator_client.session["walead_selected"] == ["id-1"]


@responses.activate
def test_plain_selection_update_redirects_back_to_the_list(operator_client):
    show_page(operator_client, [lead(1)])
    response = select(operator_client, ["id-1"], ["id-1"])
    assert response.status_code == 302
    assert response.url.startswith(reverse("walead:blocked_leads"))


@responses.activate
def test_select_all_matching_pages_through_the_whole_search(operator_client):
    responses.get(URL, json=[lead(1), lead(2)])
    responses.get(URL, json=[lead(3)])
    responses.get(URL, json=[])
    response = operator_client.post(
        reverse("walead:selection_add_matching"), {"search": "person"}, follow=True
    )
    assert "Selected all 3 leads matching “person”" in response.content.decode()
    assert operator_client.session["walead_selected"] == ["id-1", "id-2", "id-3"]
    assert all("search=person" in c.request.url for c in responses.calls[:3])


@responses.activate
def test_confirm_lists_the_selection_and_highlights_opt_outs(operator_client):
    show_page(operator_client, [lead(1), lead(2, "GDPR erasure request")])
    select(operator_client, ["id-1", "id-2"], ["id-1", "id-2"])
    response = operator_client.get(reverse("walead:unblock_confirm"))
    html = response.content.decode()
    assert "Unblock 2 leads in WaLead?" in html
    assert "1 of these people asked not to be contacted" in html
    # Opt-outs come first so they cannot be missed.
    assert html.index("person-2") < html.index("person-1")


@responses.activate
def test_the_opted_out_can_be_excluded_in_one_click_and_one_lead_left_out(operator_client):
    rows = [lead(1), lead(2, "GDPR erasure request"), lead(3, "Opted out"), lead(4)]
    show_page(operator_client, rows)
    select(operator_client, ["id-1", "id-2", "id-3", "id-4"], ["id-1", "id-2", "id-3", "id-4"])
    html = operator_client.get(reverse("walead:unblock_confirm")).content.decode()
    assert "Exclude the 2 who asked not to be contacted" in html
    assert "<title>Confirm unblock · suppression_admin</title>" in html
    # Both post the confirmation form elsewhere, so what was typed goes along.
    assert html.count(f'formaction="{reverse("walead:selection_exclude")}"') == 5
    assert 'aria-label="Leave out person-4"' in html

    exclude = reverse("walead:selection_exclude")
    typed = {"reason": "Client re-engaged", "ticket": "SUP-77"}
    after = operator_client.post(exclude, {"opt_outs": "1", **typed}, follow=True).content.decode()
    assert "\nClient re-engaged</textarea>" in after
    assert 'value="SUP-77"' in after
    assert "Left out the 2 people who asked not to be contacted; nothing was sent." in after
    assert "Unblock 2 leads in WaLead?" in after
    assert "asked not to be contacted</strong>" not in after
    assert operator_client.session["walead_selected"] == ["id-1", "id-4"]

    after = operator_client.post(exclude, {"drop": "id-4"}, follow=True).content.decode()
    assert "Left out person-4; nothing was sent." in after
    assert "Unblock 1 lead in WaLead?" in after
    assert "Leave out" not in after.split("<tbody>")[1]  # the last one is not left out here
    assert not any(call.request.method == "DELETE" for call in responses.calls)


@responses.activate
def test_the_list_can_hide_people_who_asked_not_to_be_contacted(operator_client):
    rows = [lead(1), lead(2, "GDPR erasure request"), lead(3, "Opted out"), lead(4)]
    html = show_page(operator_client, rows, hide_opt_outs="1").content.decode()
    assert "person-1" in html
    assert "person-4" in html
    assert "person-2" not in html
    assert "person-3" not in html
    assert "2 on this page hidden: they asked not to be contacted." in html
    assert "selected-note" not in html
    assert "hide_opt_outs=1&amp;offset=0&amp;page_end=4&amp;hidden=2" in html  # so does its count
    assert "Showing 1–4 (2 of these hidden: asked not to be contacted)" in html  # noqa: RUF001

    responses.get(URL, json=rows)
    responses.get(URL, json=[])
    counted = operator_client.get(
        reverse("walead:matching_count"), {"hide_opt_outs": "1"}
    ).content.decode()
    assert "Select all 2 leads on the blocked list, but those who asked not to be contacted" in (
        counted
    )
    counted = operator_client.get(
        reverse("walead:matching_count"),
        {"hide_opt_outs": "1", "page_end": 4, "hidden": 2},
        headers=HTMX,
    ).content.decode()
    assert "Showing 1–4 of 4 (2 of these hidden: asked not to be contacted)" in counted  # noqa: RUF001
    responses.get(URL, json=rows)
    responses.get(URL, json=[])
    operator_client.post(reverse("walead:selection_add_matching"), {"hide_opt_outs": "1"})
    assert operator_client.session["walead_selected"] == ["id-1", "id-4"]
    # Selected before they were hidden: still selected, and the bar says so.
    select(operator_client, ["id-1", "id-2", "id-4"], ["id-1", "id-2", "id-4"])
    bar = operator_client.post(
        reverse("walead:selection_update"),
        {"lead": ["id-1", "id-2", "id-4"], "page_id": ["id-1", "id-2", "id-4"]},
        headers=HTMX,
    ).content.decode()
    assert "3 selected" in bar
    assert "1 of them asked not to be contacted" in bar


@responses.activate
def test_a_search_is_paged_through_once_then_its_total_and_next_are_known(operator_client):
    rows = [lead(n) for n in range(100)]
    responses.get(URL, json=rows)  # the page: 100 rows …
    responses.get(URL, json=rows)  # … then the count: every page …
    responses.get(URL, json=[])  # … until an empty one
    html = operator_client.get(reverse("walead:blocked_leads")).content.decode()
    assert 'id="next-link"' in html  # a full page: not known yet whether there are more
    assert "page_end=100&amp;next_shown=1" in html  # the count will take it away if need be
    counted = operator_client.get(
        reverse("walead:matching_count"),
        {"offset": 0, "page_end": 100, "next_shown": "1"},
        headers=HTMX,
    ).content.decode()
    assert "Select all 100 leads on the blocked list" in counted
    # The page's range and Next follow the count, out of band.
    assert '<span id="list-range" class="muted" hx-swap-oob="true">Showing 1–100 of 100</span>' in (  # noqa: RUF001
        counted
    )
    assert '<span id="next-link" hx-swap-oob="true"></span>' in counted
    requests_so_far = len(responses.calls)

    # The same search again (a page view, its count, "select all"): one request, the page.
    responses.get(URL, json=rows)
    html = operator_client.get(reverse("walead:blocked_leads")).content.decode()
    assert "Showing 1–100 of 100" in html  # noqa: RUF001
    assert 'id="next-link"' not in html
    assert "Select all 100 leads on the blocked list" in html
    operator_client.post(reverse("walead:selection_add_matching"), {})
    assert len(responses.calls) == requests_so_far + 1
    assert operator_client.session["walead_selected"] == [f"id-{n}" for n in range(100)]


def test_confirm_with_empty_selection_goes_back_to_the_list(operator_client):
    response = operator_client.get(reverse("walead:unblock_confirm"))
    assert response.status_code == 302


@responses.activate
def test_unblock_sends_exactly_the_confirmed_ids_and_shows_the_result(operator_client):
    show_page(operator_client, [lead(1), lead(2), lead(3)])
    select(operator_client, ["id-1", "id-3"], ["id-1", "id-2", "id-3"])
    token = confirm_token(operator_client)
    responses.delete(URL, json={"success": True, "message": "2 leads unblocked", "unblocked": 2})
    response = operator_client.post(
        reverse("walead:unblock_submit"),
        {"lead": ["id-1", "id-3"], "reason": "Client re-engaged", "ticket": "T-9", "token": token},
        headers={"User-Agent": "Browser/1.0"},
    )
    operation = Operation.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("jobs:detail", args=[operation.pk])
    # The web request only records and queues: the job sends, in the background.
    assert not any(c.request.method == "DELETE" for c in responses.calls)
    queued = operator_client.get(response.url).content.decode()
    assert 'data-testid="job-status">Queued<' in queued
    assert 'hx-trigger="every 1s"' in queued

    run_the_job()
    delete = next(c for c in responses.calls if c.request.method == "DELETE")
    assert json.loads(delete.request.body) == ["id-1", "id-3"]
    assert operation.user_agent == "Browser/1.0"
    assert operation.client_ip == "127.0.0.1"
    assert operation.ticket == "T-9"
    assert operator_client.session["walead_selected"] == []

    html = operator_client.get(response.url).content.decode()
    assert 'data-testid="done">2<' in html
    assert 'data-testid="job-status">Succeeded<' in html
    assert 'hx-trigger="every 1s"' not in html
    old_link = operator_client.get(reverse("walead:operation_result", args=[operation.pk]))
    assert old_link.url == response.url


@responses.activate
def test_result_explains_failures_in_plain_words(operator_client):
    show_page(operator_client, [lead(1)])
    select(operator_client, ["id-1"], ["id-1"])
    token = confirm_token(operator_client)
    responses.delete(URL, status=400, json={"message": "Invalid id"})
    response = operator_client.post(
        reverse("walead:unblock_submit"), {"lead": ["id-1"], "reason": "r", "token": token}
    )
    run_the_job()
    html = operator_client.get(response.url).content.decode()
    assert "Not unblocked" in html
    assert "Invalid id" in html
    assert 'data-testid="done">0<' in html


@responses.activate
def test_submitting_the_same_confirmation_twice_sends_once(operator_client):
    show_page(operator_client, [lead(1)])
    select(operator_client, ["id-1"], ["id-1"])
    token = confirm_token(operator_client)
    responses.delete(URL, json={"success": True, "unblocked": 1})
    data = {"lead": ["id-1"], "reason": "r", "token": token}
    first = operator_client.post(reverse("walead:unblock_submit"), data)
    second = operator_client.post(reverse("walead:unblock_submit"), data)
    assert first.url == second.url
    assert Operation.objects.count() == Job.objects.count() == 1
    said = operator_client.get(second.url).content.decode()
    assert "This unblock was already sent: nothing was sent again." in said
    run_the_job()
    assert sum(1 for c in responses.calls if c.request.method == "DELETE") == 1


@responses.activate
def test_missing_reason_is_refused_with_a_message_and_nothing_sent(operator_client):
    show_page(operator_client, [lead(1)])
    select(operator_client, ["id-1"], ["id-1"])
    token = confirm_token(operator_client)
    response = operator_client.post(
        reverse("walead:unblock_submit"), {"lead": ["id-1"], "reason": " ", "token": token}
    )
    assert response.status_code == 400
    assert REASON_REQUIRED in response.content.decode()
    assert not any(c.request.method == "DELETE" for c in responses.calls)
    assert Operation.objects.count() == 0


@responses.activate
def test_opt_out_needs_an_explicit_acknowledgement(operator_client):
    show_page(operator_client, [lead(1, "Unsubscribed")])
    select(operator_client, ["id-1"], ["id-1"])
    token = confirm_token(operator_client)
    data = {"lead": ["id-1"], "reason": "Asked to hear from us", "token": token}
    refused = operator_client.post(reverse("walead:unblock_submit"), data)
    assert refused.status_code == 400
    assert OPT_OUT_ACK_REQUIRED in refused.content.decode()
    responses.delete(URL, json={"success": True, "unblocked": 1})
    accepted = operator_client.post(
        reverse("walead:unblock_submit"), {**data, "acknowledge_opt_out": "on"}
    )
    assert accepted.status_code == 302
    run_the_job()
    assert Operation.objects.get().items.get().outcome == ItemOutcome.UNBLOCKED


@responses.activate
def test_ids_not_shown_to_this_session_are_refused(operator_client):
    show_page(operator_client, [lead(1)])
    select(operator_client, ["id-1"], ["id-1"])
    token = confirm_token(operator_client)
    response = operator_client.post(
        reverse("walead:unblock_submit"),
        {"lead": ["id-1", "forged-id"], "reason": "r", "token": token},
    )
    assert response.status_code == 400
    assert SELECTION_CHANGED in response.content.decode()
    assert Operation.objects.count() == 0


def test_forged_token_is_refused(operator_client):
    response = operator_client.post(
        reverse("walead:unblock_submit"), {"lead": [], "reason": "r", "token": "not-a-token"}
    )
    assert response.status_code == 400
    assert Operation.objects.count() == 0


@responses.activate
def test_results_load_the_matching_count_lazily(operator_client):
    html = show_page(operator_client, [lead(1)], search="per").content.decode()
    assert 'hx-trigger="load delay:600ms"' in html
    assert reverse("walead:matching_count") + "?search=per" in html
    assert len(responses.calls) == 2  # the page and its end, not the whole search again


@responses.activate
def test_matching_count_pages_through_and_names_n(operator_client):
    responses.get(URL, json=[lead(1), lead(2)])
    responses.get(URL, json=[lead(3)])
    responses.get(URL, json=[])
    response = operator_client.get(
        reverse("walead:matching_count"), {"search": "person"}, headers=HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith("<form")
    assert "Select all 3 leads matching “person”" in html
    assert "hx-trigger" not in html  # the counted button does not count again


@responses.activate
def test_matching_count_failure_still_offers_the_button(operator_client):
    responses.get(URL, status=503, json={})
    html = operator_client.get(reverse("walead:matching_count"), {"search": "x"}).content.decode()
    assert "Select all leads matching “x”" in html
    assert "could not count them" in html


HOSTILE_LEADS = {
    "nul": ("ann\u0000e", "Opted\u0000out", "ann\ufffde", "Opted\ufffdout"),
    "bell and escape": (
        "ann\u0007\u001b[31me",
        "Opted\u009bout",
        "ann\ufffd\ufffd[31me",
        "Opted\ufffdout",
    ),
    "right-to-left override": (
        "\u202emoc.nna",
        "\u2066Opted out\u2069",
        "\ufffdmoc.nna",
        "\ufffdOpted out\ufffd",
    ),
    "5,000-character slug": ("a" * 5000, "Opted out", "a" * 5000, "Opted out"),
    # Kept as given, but the audit's search key decodes it: a NUL there too, once.
    "percent-encoded NUL": ("ann%00e", "Opted out", "ann%00e", "Opted out"),
}


@pytest.mark.parametrize("kind", HOSTILE_LEADS)
@pytest.mark.parametrize("raw_body", [False, True], ids=["escaped", "raw"])
@responses.activate
def test_a_lead_with_hostile_text_is_shown_safely_and_can_still_be_unblocked(
    operator_client, kind, raw_body
):
    """Runs on PostgreSQL in CI, which refuses NUL and values longer than their column."""
    slug, reason, shown_slug, shown_reason = HOSTILE_LEADS[kind]
    hostile = {**lead(1), "publicIdentifier": slug, "reason": reason}
    body = json.dumps([hostile, lead(2)], ensure_ascii=not raw_body)
    if raw_body:
        # Raw control characters inside a JSON string are not JSON; ours pass as U+FFFD.
        body = re.sub(r"\\u00([01][0-9a-f])", lambda m: chr(int(m[1], 16)), body)
    responses.get(URL, body=body, content_type="application/json")
    responses.get(URL, json=[])
    page = operator_client.get(reverse("walead:blocked_leads"))
    assert page.status_code == 200
    html = page.content.decode()
    assert shown_slug[:300] in html
    assert not any(char in html for char in "\u0000\u0007\u001b\u009b\u202e\u2066")
    select(operator_client, ["id-1"], ["id-1", "id-2"])
    token = confirm_token(operator_client)
    response = operator_client.post(
        reverse("walead:unblock_submit"),
        {
            "lead": ["id-1"],
            "reason": "Client re-engaged",
            "token": token,
            "acknowledge_opt_out": "on",
        },
    )
    assert response.status_code == 302
    operation = Operation.objects.get()
    item = operation.items.get()
    assert (item.identifier, item.label, item.original_reason) == ("id-1", shown_slug, shown_reason)
    replaced = operation.source_detail.get("leads_with_replaced_characters")
    unaltered = kind in {"5,000-character slug", "percent-encoded NUL"}
    assert replaced == (None if unaltered else ["id-1"])
    assert not has_unsafe(item.search_key)

    # WaLead leaves the outcome open; the look-up searches the part of the slug we kept,
    # and finds the lead gone (a search for the altered slug would find nothing either way,
    # so the look-up must also find it when it is still there: see the next test).
    responses.delete(URL, json={"success": True, "unblocked": 0})
    responses.get(URL, json=[])
    job = run_the_job()
    assert job.operation.items.get().outcome == ItemOutcome.GONE
    look_up = [c for c in responses.calls if c.request.method == "GET"][-1]
    searched = look_up.request.params["search"]
    assert "\ufffd" not in searched
    assert searched in shown_slug
    assert len(searched) >= min(len(shown_slug) // 3, 200)


@responses.activate
def test_the_look_up_of_a_lead_with_replaced_characters_finds_it_still_blocked(operator_client):
    hostile = {**lead(1), "publicIdentifier": "ann\u202ee-marie", "reason": "x"}
    show_page(operator_client, [hostile])
    select(operator_client, ["id-1"], ["id-1"])
    operator_client.post(
        reverse("walead:unblock_submit"),
        {"lead": ["id-1"], "reason": "Client re-engaged", "token": confirm_token(operator_client)},
    )
    responses.delete(URL, json={"success": True, "unblocked": 0})
    responses.get(URL, json=[hostile])  # WaLead still lists it under its real slug
    responses.get(URL, json=[])
    job = run_the_job()
    item = job.operation.items.get()
    assert item.outcome != ItemOutcome.UNBLOCKED
    look_up = [c for c in responses.calls if c.request.method == "GET"][2]  # after the page
    assert look_up.request.params["search"] == "e-marie"
