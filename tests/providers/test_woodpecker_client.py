import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from suppression_admin.providers.errors import (
    ProviderAuthError,
    ProviderMalformedAnswer,
    ProviderValidationError,
)
from suppression_admin.providers.woodpecker import MAX_URL_LENGTH, WoodpeckerClient

BASE = "https://woodpecker.test/rest"
URL = f"{BASE}/v2/blacklist/emails"
KEY = "woodpecker-secret-key-0123456789"


def error_body(status: int, title: str, detail: str) -> dict:
    return {"title": title, "status": status, "detail": detail, "timestamp": "2025-03-05 17:57:00"}


@pytest.fixture
def client():
    return WoodpeckerClient(base_url=BASE, api_key=KEY)


@responses.activate
def test_list_page_sends_paging_and_filter(client):
    responses.get(URL, json={"emails": ["a@x.com"], "total": 7})
    page = client.list_page(page=2, per_page=50, email_filter="*@x.com")
    assert page.emails == ["a@x.com"]
    assert page.total == 7
    query = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert query == {"page": ["2"], "per_page": ["50"], "email_filter": ["*@x.com"]}


@responses.activate
def test_list_page_accepts_email_objects(client):
    responses.get(URL, json={"emails": [{"email": "a@x.com"}], "total": 1})
    assert client.list_page().emails == ["a@x.com"]


@pytest.mark.parametrize("body", [{"total": 1}, {"emails": "a@x.com"}, {"emails": [1]}, []])
@responses.activate
def test_list_page_with_unreadable_answer_is_malformed(client, body):
    responses.get(URL, json=body)
    with pytest.raises(ProviderMalformedAnswer):
        client.list_page()


@responses.activate
def test_lookup_splits_long_lists_so_every_url_fits_the_limit(client):
    emails = [f"someone.with.a.long.name{i}@a-rather-long-company-domain.com" for i in range(600)]
    responses.get(URL, json={"emails": emails[:3], "total": 3})
    found = client.lookup(emails)
    assert found == set(emails[:3])
    assert len(responses.calls) > 1
    sent = []
    for call in responses.calls:
        assert len(call.request.url) <= MAX_URL_LENGTH
        sent += parse_qs(urlsplit(call.request.url).query)["email_filter"][0].split(",")
    assert sent == emails  # every address looked up once, in order


@responses.activate
def test_lookup_ignores_answers_it_did_not_ask_for(client):
    responses.get(URL, json={"emails": ["A@x.com", "other@x.com"], "total": 2})
    assert client.lookup(["a@x.com"]) == {"A@x.com"}


@responses.activate
def test_remove_sends_emails_and_returns_removed_ones(client):
    responses.delete(URL, json={"emails": ["a@x.com"]})
    assert client.remove(["a@x.com", "b@x.com"]) == ["a@x.com"]
    assert json.loads(responses.calls[0].request.body) == {"emails": ["a@x.com", "b@x.com"]}


def test_remove_refuses_more_than_500_before_sending(client):
    with pytest.raises(ValueError, match="500"):
        client.remove([f"p{i}@x.com" for i in range(501)])


@pytest.mark.parametrize(
    "detail",
    [
        "You can proceed with up to 500 elements in one request",
        "Emails parameter can not be empty",
        "Value of emails is incorrect.",
    ],
)
@responses.activate
def test_documented_400_details_reach_the_message(client, detail):
    responses.delete(URL, status=400, json=error_body(400, "Bad Request", detail))
    with pytest.raises(ProviderValidationError) as caught:
        client.remove(["a@x.com"])
    assert detail in caught.value.message


@responses.activate
def test_invalid_key_is_an_auth_error_without_the_key(client):
    responses.get(URL, status=401, json=error_body(401, "Unauthorized", "Invalid api key"))
    with pytest.raises(ProviderAuthError) as caught:
        client.list_page()
    assert "Invalid api key" in caught.value.message
    assert KEY not in caught.value.message


@responses.activate
def test_add_posts_emails(client):
    responses.post(URL, json={"emails": ["a@x.com"]})
    assert client.add(["a@x.com"]) == ["a@x.com"]
    assert responses.calls[0].request.method == "POST"


@responses.activate
def test_a_look_up_reads_every_page_of_matches():
    # "*" is a wildcard to the filter, and a valid character of an address.
    many = [f"a{i}@x.com" for i in range(500)]
    responses.get(URL, json={"emails": many, "total": 501})
    responses.get(URL, json={"emails": ["a*b@x.com"], "total": 501})
    found = WoodpeckerClient(base_url=BASE, api_key=KEY).lookup(["a*b@x.com"])
    assert found == {"a*b@x.com"}
    assert "page=1" in responses.calls[1].request.url
