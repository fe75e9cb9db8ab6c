import pytest
import responses
from django.urls import reverse

from tests.conftest import TEST_WOODPECKER_URL

URL = f"{TEST_WOODPECKER_URL}/v2/blacklist/emails"
pytestmark = pytest.mark.usefixtures("live_providers")


@responses.activate
def test_blacklist_page_lists_emails_and_pages(operator_client):
    responses.get(URL, json={"emails": ["a@x.com", "b@x.com"], "total": 1250})
    response = operator_client.get(reverse("woodpecker:blacklist"), {"page": 1})
    html = response.content.decode()
    assert "a@x.com" in html
    assert "501–502 of 1250" in html  # noqa: RUF001 - the page uses an en dash
    assert "page=2" in html
    assert "page=0" in html
    assert "page=1&per_page=500" in responses.calls[0].request.url


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
