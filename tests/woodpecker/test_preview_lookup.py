"""The preview's blacklist count: by email_filter, or by reading a short blacklist whole."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from suppression_admin.woodpecker.preview import draft_lookup_blacklisted
from tests.conftest import TEST_WOODPECKER_URL
from tests.woodpecker.factories import addresses, make_draft

URL = f"{TEST_WOODPECKER_URL}/v2/blacklist/emails"
pytestmark = pytest.mark.usefixtures("live_providers")


def woodpecker_listing(blacklist: list[str], *, total: bool = True):
    """GET like Woodpecker: a page of the blacklist, or of its matches for email_filter
    (without ``total``: the answer leaves its total out)."""

    def callback(request):
        query = parse_qs(urlsplit(request.url).query)
        page, per_page = int(query["page"][0]), int(query["per_page"][0])
        rows = blacklist
        if "email_filter" in query:
            wanted = set(query["email_filter"][0].split(","))
            rows = [email for email in blacklist if email in wanted]
        chunk = rows[page * per_page : (page + 1) * per_page]
        answer = {"emails": chunk, **({"total": len(rows)} if total else {})}
        return 200, {}, json.dumps(answer)

    return callback


def requested() -> list[dict]:
    return [parse_qs(urlsplit(call.request.url).query) for call in responses.calls]


@responses.activate
def test_a_short_blacklist_is_read_whole_instead_of_filtering_a_long_upload(operator):
    upload = addresses(5000)  # about 50 email_filter requests
    blacklist = upload[::7] + addresses(1200, prefix="someone-else")  # 1,915: 4 pages
    responses.add_callback(responses.GET, URL, callback=woodpecker_listing(blacklist))
    draft = make_draft(operator, upload)

    draft_lookup_blacklisted(draft)

    draft.refresh_from_db()
    assert draft.blacklisted_count == len(upload[::7])
    assert draft.blacklisted_emails.split("\n") == upload[::7]  # which ones, in file order
    assert draft.lookup_checked == draft.valid_count
    assert [query["page"] for query in requested()] == [["0"], ["1"], ["2"], ["3"]]
    assert not any("email_filter" in query for query in requested())


@responses.activate
def test_an_answer_without_its_total_never_cuts_the_reading_short(operator):
    upload = addresses(5000)
    blacklist = upload[::7] + addresses(1200, prefix="someone-else")  # 4 pages
    responses.add_callback(responses.GET, URL, callback=woodpecker_listing(blacklist, total=False))
    draft = make_draft(operator, upload)

    draft_lookup_blacklisted(draft)

    draft.refresh_from_db()
    assert draft.blacklisted_count == len(upload[::7])  # not just the first page's
    assert [query["page"] for query in requested()] == [["0"], ["1"], ["2"], ["3"]]


@responses.activate
def test_a_long_blacklist_is_filtered_by_the_uploaded_addresses(operator):
    upload = addresses(300)  # 2 email_filter requests
    blacklist = upload[:10] + addresses(5000, prefix="someone-else")  # 11 pages
    responses.add_callback(responses.GET, URL, callback=woodpecker_listing(blacklist))
    draft = make_draft(operator, upload)

    draft_lookup_blacklisted(draft)

    draft.refresh_from_db()
    assert draft.blacklisted_count == 10
    assert draft.blacklisted_emails.split("\n") == upload[:10]
    probe, *look_ups = requested()
    assert "email_filter" not in probe  # the first page, for the blacklist's size
    assert len(look_ups) == 2
    assert all("email_filter" in query for query in look_ups)
    looked_up = [e for query in look_ups for e in query["email_filter"][0].split(",")]
    assert looked_up == upload


@responses.activate
def test_an_upload_that_fits_one_look_up_needs_no_probe(operator):
    responses.add_callback(responses.GET, URL, callback=woodpecker_listing(["a1@example.com"]))
    draft = make_draft(operator, ["a1@example.com", "a2@example.com"])
    draft_lookup_blacklisted(draft)
    draft.refresh_from_db()
    assert draft.blacklisted_count == 1
    assert len(responses.calls) == 1
    assert "email_filter" in requested()[0]
