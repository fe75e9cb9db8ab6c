import json

import pytest
import responses
from django.urls import reverse

from tests.conftest import TEST_WALEAD_URL, TEST_WOODPECKER_URL

URL = f"{TEST_WOODPECKER_URL}/v2/blacklist/emails"
pytestmark = pytest.mark.usefixtures("live_providers")


@responses.activate
def test_blacklist_page_lists_emails_and_pages(operator_client):
    responses.get(URL, json={"emails": ["a@x.com", "b@x.com"], "total": 1250})
    response = operator_client.get(reverse("woodpecker:blacklist"), {"page": 1})
    html = response.content.decode()
    assert "a@x.com" in html
    assert "101–102 of 1,250" in html  # noqa: RUF001 - the page uses an en dash
    assert "page=2" in html
    assert "page=0" in html
    assert "page=1&per_page=100" in responses.calls[0].request.url


@responses.activate
def test_blacklist_search_uses_email_filter_and_htmx_gets_a_fragment(operator_client):
    responses.get(URL, json={"emails": ["a@x.com"], "total": 1})
    response = operator_client.get(
        reverse("woodpecker:blacklist"),
        {"email_filter": "*@x.com"},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert response.content.decode().lstrip().startswith('<div id="results">')
    assert "email_filter=%2A%40x.com" in responses.calls[0].request.url


def searched(operator_client, text, **query):
    response = operator_client.get(
        reverse("woodpecker:blacklist"),
        {"email_filter": text, **query},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    return response.content.decode()


def sent_filters() -> list[str]:
    return [call.request.params.get("email_filter", "") for call in responses.calls]


@responses.activate
def test_a_partial_text_finds_every_address_containing_it(operator_client):
    responses.get(URL, json={"emails": ["m.johnson@a.com", "tim.john@b.com"], "total": 3})
    html = searched(operator_client, "  M.Joh ")
    assert sent_filters() == ["*M.Joh*"]  # as typed: Woodpecker's own matching decides case
    assert "1–2 of 3 matching <code>*M.Joh*</code>" in html  # noqa: RUF001
    assert "m.johnson@a.com" in html
    assert "No blacklisted address" not in html


@responses.activate
def test_one_whole_address_is_looked_up_exactly_beside_its_near_spellings(operator_client):
    responses.get(URL, json={"emails": ["jo.ann@x.com"], "total": 1})
    responses.get(URL, json={"emails": [], "total": 0})
    html = searched(operator_client, "ann@x.com")
    assert sent_filters() == ["*ann@x.com*", "ann@x.com"]  # near spellings, then exactly
    verdict = '<span class="tag ok">Not on the blacklist</span> ann@x.com'
    assert f'data-testid="verdict">{verdict}' in html
    assert "jo.ann@x.com" in html


@responses.activate
def test_a_whole_address_among_many_matches_is_found_by_its_exact_look_up(operator_client):
    responses.get(URL, json={"emails": [f"x{n}ann@x.com" for n in range(100)], "total": 250})
    responses.get(URL, json={"emails": ["Ann@X.com"], "total": 1})
    html = searched(operator_client, "ANN@x.com")
    assert sent_filters() == ["*ANN@x.com*", "ANN@x.com"]
    assert '<span class="tag warn">On the blacklist</span> ANN@x.com' in html


@responses.activate
def test_a_partly_typed_address_gets_no_verdict(operator_client):
    responses.get(URL, json={"emails": ["ann@x.com"], "total": 1})
    html = searched(operator_client, "ann@")
    assert sent_filters() == ["*ann@*"]
    assert 'data-testid="verdict"' not in html


@responses.activate
def test_ten_pasted_addresses_each_get_a_true_answer_past_the_url_limit(operator_client):
    addresses = [f"someone.with.a.rather.long.name.{n}@example.com" for n in range(120)]
    listed = addresses[::3]

    def answer(request):
        wanted = request.params["email_filter"].split(",")
        found = [address for address in listed if address in wanted]
        return 200, {}, json.dumps({"emails": found, "total": len(found)})

    responses.add_callback(responses.GET, URL, callback=answer)
    pasted = "\n".join(addresses[:60]) + ", " + "; ".join(addresses[60:])
    assert len(pasted) < 6000
    html = searched(operator_client, pasted + "\n" + addresses[0].upper())
    assert len(responses.calls) > 1  # several look-ups: each URL within Woodpecker's limit
    assert all(len(call.request.url) <= 4100 for call in responses.calls)
    assert "<strong>40 of 120</strong> addresses are on the blacklist." in html
    verdicts = html.split('data-testid="verdicts"')[1].split("</table>")[0]
    assert verdicts.index(addresses[0]) < verdicts.index(addresses[1])  # in the order given
    assert addresses[0].upper() not in verdicts  # each once, as first spelled
    for address in addresses:
        start = html.index(f"<td>{address}</td>")
        row = html[start : html.index("</tr>", start)]
        assert ("tag warn" in row) == (address in listed), address


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ann@x.com smith", "“smith” is not a whole address"),
        ("ann@x.com, *@y.com", "“*@y.com” is not a whole address"),
        ("ann@x.com ann@", "“ann@” is not a whole address"),
        (" ".join(f"p{n}@example.com" for n in range(500)), "at most 6,000 fit in one search"),
        # Once sent whole: Woodpecker refused its URL (414) and the page said so in its words.
        ("x" * 5_000, "is longer than any email address (254 characters)"),
    ],
)
@responses.activate
def test_a_search_that_cannot_be_read_is_an_error_never_unfiltered_rows(
    operator_client, text, message
):
    html = searched(operator_client, text)
    assert message in html
    assert len(responses.calls) == 0  # nothing listed under the box
    assert "<table" not in html


@responses.activate
def test_blacklist_error_is_shown_in_words(operator_client):
    responses.get(
        URL,
        status=401,
        json={
            "title": "Unauthorized",
            "status": 401,
            "detail": "Invalid api key",
            "timestamp": "2025-03-05 17:57:00",
        },
    )
    response = operator_client.get(reverse("woodpecker:blacklist"))
    assert response.status_code == 200
    assert "Invalid api key" in response.content.decode()


def test_unconfigured_woodpecker_says_so(operator_client, settings):
    settings.WOODPECKER_API_KEY = ""
    response = operator_client.get(reverse("woodpecker:blacklist"))
    assert response.status_code == 200
    assert "Woodpecker is not configured" in response.content.decode()
    assert "WOODPECKER_API_KEY" in response.content.decode()


def test_home_shows_each_providers_connection(operator_client, settings):
    settings.WOODPECKER_API_KEY = ""
    html = operator_client.get(reverse("home")).content.decode()
    assert "<td>WaLead</td><td>live</td>" in html
    assert "<td>Woodpecker</td><td>not configured</td>" in html
    settings.SUPPRESSION_SANDBOX = True
    settings.WALEAD_BASE_URL = ""
    html = operator_client.get(reverse("home")).content.decode()
    assert "<td>WaLead</td><td>sandbox</td>" in html


def test_pages_never_show_the_api_key(operator_client, settings):
    html = operator_client.get(reverse("home")).content.decode()
    assert settings.WALEAD_API_KEY not in html
    assert settings.WOODPECKER_API_KEY not in html


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@responses.activate
def test_a_busy_key_is_a_page_that_says_so_quickly_never_a_500(operator_client, settings):
    import threading
    import time

    from suppression_admin.keys.lock import key_fingerprint, key_turn
    from tests.conftest import TEST_WOODPECKER_KEY

    settings.WOODPECKER_WEB_KEY_WAIT_SECONDS = 0.3
    holding, done = threading.Event(), threading.Event()

    def a_long_request_of_a_job():
        with key_turn(key_fingerprint(TEST_WOODPECKER_KEY), provider="Woodpecker", wait_seconds=5):
            holding.set()
            done.wait(5)

    holder = threading.Thread(target=a_long_request_of_a_job)
    holder.start()
    holding.wait(5)
    began = time.monotonic()
    response = operator_client.get(reverse("woodpecker:blacklist"))
    took = time.monotonic() - began
    done.set()
    holder.join()

    assert response.status_code == 200
    assert "busy with other requests for this account" in response.content.decode()
    assert took < 2
    assert len(responses.calls) == 0  # nothing was sent


@pytest.mark.parametrize(
    ("url_name", "current"),
    [
        ("walead:blocked_leads", "WaLead"),
        ("woodpecker:blacklist", "Woodpecker"),
        ("woodpecker:removal_new", "Bulk removal"),
        ("jobs:mine", "Jobs"),
    ],
)
@responses.activate
def test_the_navigation_marks_the_current_page_and_offers_a_skip_link(
    operator_client, url_name, current
):
    responses.get(URL, json={"emails": [], "total": 0})
    responses.get(f"{TEST_WALEAD_URL}/v1/blocked-leads", json=[])
    html = operator_client.get(reverse(url_name)).content.decode()
    assert html.count('aria-current="page"') == 1
    assert f'aria-current="page">{current}</a>' in html
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main" tabindex="-1">' in html


@responses.activate
def test_search_as_you_type_replaces_the_history_entry(operator_client):
    responses.get(URL, json={"emails": [], "total": 0})
    responses.get(f"{TEST_WALEAD_URL}/v1/blocked-leads", json=[])
    for url_name in ("woodpecker:blacklist", "walead:blocked_leads"):
        html = operator_client.get(reverse(url_name)).content.decode()
        form = html[html.rindex("<form", 0, html.index('method="get"')) :][:700]
        assert 'hx-replace-url="true"' in form
        assert "hx-push-url" not in form
        assert "data-search" in html
