"""The WaLead list's search box: one text, several identifiers or profile addresses, and
searches it cannot read, which are said in words instead of showing unfiltered rows."""

import re

import pytest
import responses
from django.urls import reverse
from responses import matchers

from suppression_admin.jobs.models import Job
from suppression_admin.walead.search import (
    MAX_TERMS,
    SearchInvalid,
    search_read,
)
from tests.conftest import TEST_WALEAD_URL
from tests.woodpecker.factories import run

URL = f"{TEST_WALEAD_URL}/v1/blocked-leads"
pytestmark = pytest.mark.usefixtures("live_providers")


def lead(slug: str, created: str = "2025-06-01") -> dict:
    return {
        "id": f"id-{slug}",
        "publicIdentifier": slug,
        "reason": "Existing client",
        "createdAt": f"{created}T10:00:00.000Z",
        "workspaceId": "w",
    }


def answer(search: str, rows: list[dict]) -> None:
    """WaLead's answer to ``search``: ``rows``, then an empty page."""
    by_search = matchers.query_param_matcher({"search": search}, strict_match=False)
    responses.get(
        URL,
        json=rows,
        match=[by_search, matchers.query_param_matcher({"offset": "0"}, strict_match=False)],
    )
    responses.get(
        URL,
        json=[],
        match=[
            by_search,
            matchers.query_param_matcher({"offset": str(len(rows))}, strict_match=False),
        ],
    )


def listed(client, search: str) -> str:
    """The list's page for ``search``, as HTML."""
    return client.get(reverse("walead:blocked_leads"), {"search": search}).content.decode()


def searched() -> list[str]:
    return [call.request.params["search"] for call in responses.calls]


@pytest.mark.parametrize(
    ("text", "terms", "checks"),
    [
        ("", (), False),
        ("maria-gon", ("maria-gon",), False),
        (
            "anna-b, carl-d;eva-f\njohn-doe  x-y-z",
            ("anna-b", "carl-d", "eva-f", "john-doe", "x-y-z"),
            True,
        ),
        ("anna-b ANNA-B anna-b", ("anna-b",), True),
        ("https://www.linkedin.com/in/anna-b/", ("anna-b",), True),
        ("linkedin.com/in/jos%C3%A9-garc%C3%ADa?trk=x", ("josé-garcía",), True),
        ("http://de.linkedin.com/in/anna-b, carl-d", ("anna-b", "carl-d"), True),
        # Whatever follows the identifier in a profile's address, and whatever wraps it.
        ("linkedin.com/in/maria-g/details/experience/", ("maria-g",), True),
        ("https://www.linkedin.com/in/maria-g/fr", ("maria-g",), True),
        ("https://www.linkedin.com/mwlite/in/maria-g", ("maria-g",), True),
        ('"https://linkedin.com/in/maria-g"', ("maria-g",), True),
        ("<https://linkedin.com/in/maria-g>.", ("maria-g",), True),
        ("linkedin.com/in/maria-g.", ("maria-g",), True),
        ("linkedin.com/in/maria-g maria-g", ("maria-g",), True),
        # The order given, each once, as first spelled.
        ("Abc-d xyz-w abc-d", ("Abc-d", "xyz-w"), True),
        (",; ,", (), False),
        ("maria\u200b-gon\ufeff", ("maria-gon",), False),  # invisible characters dropped
        ("jose\u0301-garcia", ("jos\u00e9-garcia",), False),  # one way to write é
    ],
)
def test_what_a_search_reads_as(text, terms, checks):
    search = search_read(text)
    assert search.terms == terms
    assert search.checks is checks


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            " ".join(f"lead-{n}" for n in range(MAX_TERMS + 1)),
            "21 texts searched at once; at most 20",
        ),
        ("anna-b, jo", "“jo” is too short to check: give at least 3 characters"),
        ("https://www.linkedin.com/in/a", "“a” is too short to check"),
        ("linkedin.com/company/acme", "“linkedin.com/company/acme” is not a LinkedIn profile"),
        ("https://example.com/maria-g", "is not a LinkedIn profile address"),
        ("<b>x</b>", "“<b>x</b>” is not a LinkedIn profile address"),
        ("ann\u202ee", "“ann\ufffde” holds a control or text-direction character (shown as"),
        ("a" * 201, "is longer than any LinkedIn public identifier (200 characters)"),
        ("ann\u0000e", "holds a control or text-direction character"),
        ("linkedin.com/in/ann%00e", "holds a control or text-direction character"),
    ],
)
def test_searches_that_cannot_be_read_say_why(text, message):
    with pytest.raises(SearchInvalid, match=re.escape(message)):
        search_read(text)


@responses.activate
def test_several_identifiers_are_each_checked_and_their_leads_listed_together(operator_client):
    answer("anna-b", [lead("anna-b", "2025-01-01"), lead("anna-bell", "2025-03-01")])
    answer("carl-d", [])
    answer("eva-f", [lead("eva-fischer", "2025-02-01")])
    html = listed(operator_client, "anna-b, carl-d\neva-f")
    assert sorted(set(searched())) == ["anna-b", "carl-d", "eva-f"]
    assert "<strong>1 of 3</strong> are blocked." in html
    verdicts = html.split('data-testid="verdicts"')[1].split("</table>")[0]
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in verdicts.split("<tr>")[2:]]
    assert [(term, ">Yes<" in blocked, matching) for term, blocked, matching in cells] == [
        ("anna-b", True, "2"),  # anna-b itself, and anna-bell
        ("carl-d", False, "0"),
        ("eva-f", False, "1"),  # eva-fischer only contains it
    ]
    # Newest block first, all three searches' leads on one list, their total known.
    rows = html.split('id="page-selection"')[1]
    assert rows.index("anna-bell") < rows.index("eva-fischer") < rows.index('value="id-anna-b"')
    assert "Showing 1–3 of 3" in html  # noqa: RUF001
    # "Select all" takes the very person checked: anna-bell and eva-fischer are others.
    assert "Select the 1 exact match</button>" in html
    assert "the other leads listed only contain what was searched" in html
    assert html.count('data-testid="checked-lead"') == 1
    assert 'value="id-anna-b"' in html.split('data-testid="checked-lead"')[0].rsplit("<tr", 1)[1]
    assert 'hx-trigger="load delay:600ms"' not in html  # nothing left to count
    assert 'id="next-link"' not in html

    calls = len(responses.calls)
    operator_client.post(
        reverse("walead:selection_add_matching"), {"search": "anna-b, carl-d\neva-f"}
    )
    assert len(responses.calls) == calls  # each search read once, then reused
    assert operator_client.session["walead_selected"] == ["id-anna-b"]


@responses.activate
def test_a_profile_address_is_read_as_its_identifier_and_answered_exactly(operator_client):
    answer("anna-b", [lead("anna-bell")])
    html = listed(operator_client, "https://www.linkedin.com/in/anna-b/")
    assert searched() == ["anna-b", "anna-b"]
    assert "<strong>0 of 1</strong> is blocked." in html
    assert "anna-bell" in html  # listed: it contains the text, but it is not the person


@responses.activate
def test_none_found_says_so_for_several(operator_client):
    answer("anna-b", [])
    answer("carl-d", [])
    html = listed(operator_client, "anna-b carl-d")
    assert "<strong>0 of 2</strong> are blocked." in html
    assert "None of them is blocked, and no blocked lead contains them." in html


@pytest.mark.parametrize(
    "text",
    [
        "x" * 300,  # once dropped by the form: the whole list showed under it
        "ann\u0000e",  # once refused by the form, with the same result
        " ".join(f"lead-{n}" for n in range(30)),
    ],
)
@responses.activate
def test_an_unreadable_search_is_an_error_never_the_unfiltered_list(operator_client, text):
    html = listed(operator_client, text)
    assert 'data-testid="search-invalid"' in html
    assert 'name="page_id"' not in html
    assert len(responses.calls) == 0  # nothing asked of WaLead
    response = operator_client.post(reverse("walead:selection_add_matching"), {"search": text})
    assert response.status_code == 302
    assert operator_client.session.get("walead_selected", []) == []


@responses.activate
def test_a_search_of_only_separators_is_named_as_no_search(operator_client):
    responses.get(URL, json=[lead("anna-b")])
    responses.get(URL, json=[])
    html = listed(operator_client, " ,; ")
    assert "Select all leads on the blocked list" in html
    assert "matching “" not in html
    assert "search=&amp;sort=DESC&amp;offset=0&amp;page_end=1" in html  # its count: no search
    assert '<textarea id="search" name="search" rows="1"' in html
    assert "> ,; </textarea>" not in html


@responses.activate
def test_a_check_is_read_again_once_our_unblock_changed_the_list(operator_client):
    answer("anna-b", [lead("anna-b")])
    html = listed(operator_client, "linkedin.com/in/anna-b")
    assert "<strong>1 of 1</strong> is blocked." in html
    assert 'data-testid="checked-at">WaLead was asked at <time' in html
    # Reused within the minute …
    again = operator_client.get(reverse("walead:blocked_leads"), {"search": "anna-b zed-q"})
    assert searched().count("anna-b") == 2  # the first read only (its page and its end)

    operator_client.post(
        reverse("walead:selection_update"), {"lead": ["id-anna-b"], "page_id": ["id-anna-b"]}
    )
    token = operator_client.get(reverse("walead:unblock_confirm")).context["form"].initial["token"]
    operator_client.post(
        reverse("walead:unblock_submit"),
        {"lead": ["id-anna-b"], "reason": "Client re-engaged", "token": token},
    )
    responses.delete(URL, json={"success": True, "unblocked": 1})
    run(Job.objects.get())
    assert again.status_code == 200

    # … until one of our unblocks has changed the list: then WaLead is asked again.
    answer("anna-b", [])
    html = listed(operator_client, "linkedin.com/in/anna-b")
    assert "<strong>0 of 1</strong> is blocked." in html
