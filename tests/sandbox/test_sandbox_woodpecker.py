"""The sandbox Woodpecker blacklist endpoint, through Django's test client."""

import json
import re
import time

import pytest

from suppression_admin.sandbox import ratelimit
from suppression_admin.sandbox.models import SandboxBlacklistedEmail
from tests.sandbox.conftest import SANDBOX_KEY, WOODPECKER_URL

pytestmark = pytest.mark.django_db

TOO_MANY = "You can proceed with up to 500 elements in one request"
EMPTY = "Emails parameter can not be empty"
INCORRECT = "Value of emails is incorrect."


def blacklist(*emails: str) -> None:
    SandboxBlacklistedEmail.objects.bulk_create(SandboxBlacklistedEmail(email=e) for e in emails)


def send(client, method: str, body, auth, *, raw: bool = False):
    data = body if raw else json.dumps(body)
    return getattr(client, method)(
        WOODPECKER_URL, data=data, content_type="application/json", headers=auth
    )


def assert_error(answer, status: int, detail: str | None = None) -> dict:
    assert answer.status_code == status
    body = answer.json()
    assert set(body) == {"title", "status", "detail", "timestamp"}
    assert body["status"] == status
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["timestamp"])
    if detail is not None:
        assert body["detail"] == detail
    return body


def test_list_answers_emails_and_total(client, auth):
    blacklist("a@x.com", "b@x.com", "c@y.com")
    answer = client.get(WOODPECKER_URL, headers=auth)
    assert answer.status_code == 200
    assert answer.json() == {"emails": ["a@x.com", "b@x.com", "c@y.com"], "total": 3}


def test_list_pages_are_zero_based_and_end_empty(client, auth):
    blacklist(*(f"user{n:03d}@x.com" for n in range(250)))
    first = client.get(WOODPECKER_URL, headers=auth).json()
    assert len(first["emails"]) == 100  # the documented default per_page
    assert first["emails"][0] == "user000@x.com"
    last = client.get(WOODPECKER_URL, {"page": 2, "per_page": 100}, headers=auth).json()
    assert last == {"emails": [f"user{n:03d}@x.com" for n in range(200, 250)], "total": 250}
    past = client.get(WOODPECKER_URL, {"page": 1, "per_page": 500}, headers=auth).json()
    assert past == {"emails": [], "total": 250}


def test_list_per_page_above_500_is_400(client, auth):
    answer = client.get(WOODPECKER_URL, {"per_page": 501}, headers=auth)
    assert_error(answer, 400, TOO_MANY)
    assert client.get(WOODPECKER_URL, {"per_page": 500}, headers=auth).status_code == 200


@pytest.mark.parametrize("params", [{"page": "-1"}, {"page": "x"}, {"per_page": "0"}])
def test_list_bad_paging_is_400(client, auth, params):
    assert_error(client.get(WOODPECKER_URL, params, headers=auth), 400)


def test_filter_matches_exact_addresses_case_insensitively_and_counts_them(client, auth):
    blacklist("john@finisheddeal.co.uk", "wrong@baddomain.com", "other@baddomain.com")
    answer = client.get(
        WOODPECKER_URL,
        {"email_filter": "John@FinishedDeal.co.uk, wrong@baddomain.com,absent@x.com"},
        headers=auth,
    ).json()
    assert answer == {"emails": ["john@finisheddeal.co.uk", "wrong@baddomain.com"], "total": 2}


def test_filter_wildcard_matches_patterns_only_where_the_star_is(client, auth):
    blacklist("a.b@acme.com", "axb@acme.com", "info@acme.com", "info@acme.co", "a_b@acme.com")
    rows = client.get(WOODPECKER_URL, {"email_filter": "*@ACME.com"}, headers=auth).json()
    assert rows["total"] == 4
    assert "info@acme.co" not in rows["emails"]
    # "." and "_" are literal characters, not single-character wildcards.
    dotted = client.get(WOODPECKER_URL, {"email_filter": "a.b@*"}, headers=auth).json()
    assert dotted == {"emails": ["a.b@acme.com"], "total": 1}
    under = client.get(WOODPECKER_URL, {"email_filter": "a_*"}, headers=auth).json()
    assert under == {"emails": ["a_b@acme.com"], "total": 1}


def test_filter_total_counts_all_matches_not_just_the_page(client, auth):
    blacklist(*(f"p{n}@big.com" for n in range(30)), "x@small.com")
    rows = client.get(
        WOODPECKER_URL, {"email_filter": "*@big.com", "per_page": 10}, headers=auth
    ).json()
    assert len(rows["emails"]) == 10
    assert rows["total"] == 30


def test_url_longer_than_4100_characters_is_414(client, auth):
    base = f"http://testserver{WOODPECKER_URL}?email_filter="
    fits = "a" * (4100 - len(base))
    assert client.get(f"{WOODPECKER_URL}?email_filter={fits}", headers=auth).status_code == 200
    too_long = client.get(f"{WOODPECKER_URL}?email_filter={fits}a", headers=auth)
    assert_error(too_long, 414)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong-key"}])
@pytest.mark.parametrize("method", ["get", "delete", "post"])
def test_wrong_or_missing_key_is_401_with_the_documented_body(client, headers, method):
    answer = getattr(client, method)(WOODPECKER_URL, headers=headers)
    body = assert_error(answer, 401, "Invalid api key")
    assert body["title"] == "Unauthorized"
    assert b"wrong-key" not in answer.content
    assert SANDBOX_KEY.encode() not in answer.content


def test_sandbox_off_is_404(client, auth, settings):
    settings.SUPPRESSION_SANDBOX = False
    assert client.get(WOODPECKER_URL, headers=auth).status_code == 404
    assert send(client, "post", {"emails": ["a@x.com"]}, auth).status_code == 404
    assert not SandboxBlacklistedEmail.objects.exists()


def test_delete_answers_only_the_emails_it_removed(client, auth):
    blacklist("wrong@baddomain.com", "john@finisheddeal.co.uk", "keep@x.com")
    answer = send(
        client,
        "delete",
        {
            "emails": [
                "Wrong@BadDomain.com",
                "never@listed.com",
                "not-an-email",
                "john@finisheddeal.co.uk",
            ]
        },
        auth,
    )
    assert answer.status_code == 200
    assert answer.json() == {"emails": ["Wrong@BadDomain.com", "john@finisheddeal.co.uk"]}
    assert list(SandboxBlacklistedEmail.objects.values_list("email", flat=True)) == ["keep@x.com"]
    again = send(client, "delete", {"emails": ["wrong@baddomain.com"]}, auth)
    assert again.json() == {"emails": []}


def test_post_adds_valid_emails_lowercased_and_answers_all_now_blacklisted(client, auth):
    blacklist("already@x.com")
    answer = send(
        client, "post", {"emails": ["already@x.com", "New.Person@Acme.com", "bad@"]}, auth
    )
    assert answer.status_code == 200
    assert answer.json() == {"emails": ["already@x.com", "New.Person@Acme.com"]}
    assert sorted(SandboxBlacklistedEmail.objects.values_list("email", flat=True)) == [
        "already@x.com",
        "new.person@acme.com",
    ]


@pytest.mark.parametrize("method", ["delete", "post"])
@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, EMPTY),
        ({"emails": []}, EMPTY),
        ({"emails": None}, EMPTY),
        ({"emails": "a@x.com"}, INCORRECT),
        ({"emails": ["a@x.com", 7]}, INCORRECT),
        (["a@x.com"], INCORRECT),
        ({"emails": [f"u{n}@x.com" for n in range(501)]}, TOO_MANY),
    ],
    ids=["missing", "empty", "null", "string", "non-string", "bare-list", "501"],
)
def test_writes_reject_bad_bodies_with_documented_details(client, auth, method, body, detail):
    blacklist("a@x.com")
    assert_error(send(client, method, body, auth), 400, detail)
    assert SandboxBlacklistedEmail.objects.count() == 1


def test_writes_accept_exactly_500(client, auth):
    emails = [f"u{n}@x.com" for n in range(500)]
    assert len(send(client, "post", {"emails": emails}, auth).json()["emails"]) == 500
    assert len(send(client, "delete", {"emails": emails}, auth).json()["emails"]) == 500


def test_write_with_a_body_that_is_not_json_is_400(client, auth):
    assert_error(send(client, "post", "{nope", auth, raw=True), 400, INCORRECT)


def test_request_beyond_the_queue_is_429_at_once(client, auth, monkeypatch):
    monkeypatch.setattr(ratelimit, "WOODPECKER_QUEUE_SIZE", 0)
    gate = ratelimit.limiter_for(SANDBOX_KEY)
    assert gate.acquire()  # another request of this key is being processed
    try:
        started = time.monotonic()
        answer = client.get(WOODPECKER_URL, headers=auth)
        assert time.monotonic() - started < 1.0
    finally:
        gate.release()
    assert assert_error(answer, 429)["title"] == "Too Many Requests"
    assert client.get(WOODPECKER_URL, headers=auth).status_code == 200


def test_requests_are_counted_by_the_keys_limiter(client, auth):
    client.get(WOODPECKER_URL, headers=auth)
    send(client, "post", {"emails": ["a@x.com"]}, auth)
    gate = ratelimit.limiter_for(SANDBOX_KEY)
    assert gate.requests_received == 2
    assert gate.max_in_flight == 1


def test_latency_setting_delays_the_answer(client, auth, settings):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 80
    started = time.monotonic()
    assert client.get(WOODPECKER_URL, headers=auth).status_code == 200
    assert time.monotonic() - started >= 0.08
