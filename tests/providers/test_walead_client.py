import json

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from suppression_admin.providers.errors import (
    ProviderAuthError,
    ProviderMalformedAnswer,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderServerError,
    ProviderUnavailable,
    ProviderValidationError,
)
from suppression_admin.providers.walead import WaleadClient

BASE = "https://walead.test/api"
URL = f"{BASE}/v1/blocked-leads"
KEY = "walead-secret-key-0123456789"


def lead(n: int, reason: str | None = "Competitor") -> dict:
    return {
        "id": f"id-{n}",
        "publicIdentifier": f"person-{n}",
        "reason": reason,
        "createdAt": "2025-01-02T03:04:05.000Z",
        "workspaceId": "ws-1",
    }


class RecordingLog:
    def __init__(self):
        self.events = []

    def started(self, *, method, path, item_count, body):
        self.events.append(("started", method, path, item_count, body))
        return len(self.events)

    def finished(self, handle, *, status, answer_excerpt, error, sent_at, duration_ms):
        self.events.append(("finished", handle, status, answer_excerpt, error))


@pytest.fixture
def client():
    return WaleadClient(base_url=BASE, api_key=KEY)


@responses.activate
def test_list_blocked_leads_sends_key_and_query_and_parses_rows(client):
    responses.get(URL, json=[lead(1), lead(2, reason=None)])
    leads = client.list_blocked_leads(offset=50, sort="ASC", search="anna")
    assert [x.id for x in leads] == ["id-1", "id-2"]
    assert leads[1].reason is None
    assert leads[0].profile_url == "https://www.linkedin.com/in/person-1/"
    sent = responses.calls[0].request
    assert sent.headers["x-api-key"] == KEY
    assert "sort=ASC" in sent.url
    assert "offset=50" in sent.url
    assert "search=anna" in sent.url


@responses.activate
def test_iter_blocked_leads_advances_offset_by_rows_received_until_empty_page(client):
    responses.get(URL, json=[lead(1), lead(2), lead(3)])
    responses.get(URL, json=[lead(4)])
    responses.get(URL, json=[])
    leads = list(client.iter_blocked_leads(search="p"))
    assert [x.id for x in leads] == ["id-1", "id-2", "id-3", "id-4"]
    offsets = [call.request.url.split("offset=")[1].split("&")[0] for call in responses.calls]
    assert offsets == ["0", "3", "4"]


@responses.activate
def test_iter_blocked_leads_stops_when_paging_does_not_advance(client):
    responses.get(URL, json=[lead(1)])
    responses.get(URL, json=[lead(1)])
    with pytest.raises(ProviderMalformedAnswer, match="paging does not advance"):
        list(client.iter_blocked_leads())


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        "",
        json.dumps({"leads": []}),
        json.dumps([{"publicIdentifier": "x"}]),
        json.dumps(["just a string"]),
    ],
)
@responses.activate
def test_list_with_malformed_answer_raises_malformed(client, body):
    responses.get(URL, body=body, status=200, content_type="application/json")
    with pytest.raises(ProviderMalformedAnswer):
        client.list_blocked_leads()


@responses.activate
def test_unblock_sends_ids_as_json_array_and_reads_count(client):
    responses.delete(URL, json={"success": True, "message": "2 leads unblocked", "unblocked": 2})
    answer = client.unblock(["id-1", "id-2"])
    assert answer.unblocked == 2
    assert answer.success
    assert answer.message == "2 leads unblocked"
    assert json.loads(responses.calls[0].request.body) == ["id-1", "id-2"]
    assert responses.calls[0].request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "body", [{"success": True}, {"unblocked": "2"}, {"unblocked": True}, [1, 2], None]
)
@responses.activate
def test_unblock_without_readable_count_is_malformed(client, body):
    responses.delete(URL, json=body)
    with pytest.raises(ProviderMalformedAnswer):
        client.unblock(["id-1"])


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, ProviderValidationError),
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (404, ProviderValidationError),
        (429, ProviderRateLimited),
        (500, ProviderServerError),
        (502, ProviderServerError),
        (503, ProviderUnavailable),
    ],
)
@responses.activate
def test_each_error_status_maps_to_a_typed_error_with_the_providers_words(
    client, status, error_type
):
    responses.delete(URL, json={"success": False, "message": "Something specific"}, status=status)
    with pytest.raises(error_type) as caught:
        client.unblock(["id-1"])
    assert caught.value.status == status
    assert "Something specific" in caught.value.message
    assert KEY not in caught.value.message


@pytest.mark.parametrize("body", ["", "<html><body>Bad gateway</body></html>", "plain words"])
@responses.activate
def test_error_with_empty_html_or_text_body_still_gives_a_message(client, body):
    responses.delete(URL, body=body, status=502)
    with pytest.raises(ProviderServerError) as caught:
        client.unblock(["id-1"])
    assert "WaLead failed to handle the request (502)" in caught.value.message
    assert "<html>" not in caught.value.message


@responses.activate
def test_retry_after_seconds_and_long_values_are_parsed(client):
    responses.delete(URL, status=429, headers={"Retry-After": "3600"}, json={})
    with pytest.raises(ProviderRateLimited) as caught:
        client.unblock(["id-1"])
    assert caught.value.retry_after == 3600.0
    assert caught.value.proves_not_applied


@responses.activate
def test_read_timeout_on_delete_is_unknown_outcome(client):
    responses.delete(URL, body=requests.exceptions.ReadTimeout("timed out"))
    with pytest.raises(ProviderOutcomeUnknown) as caught:
        client.unblock(["id-1"])
    assert not caught.value.proves_not_applied


@responses.activate
def test_dropped_connection_on_delete_is_unknown_outcome(client):
    responses.delete(URL, body=requests.exceptions.ConnectionError("Connection aborted."))
    with pytest.raises(ProviderOutcomeUnknown):
        client.unblock(["id-1"])


@responses.activate
def test_refused_connection_proves_nothing_was_sent(client):
    refused = requests.exceptions.ConnectionError(NewConnectionError(None, "refused"))
    responses.delete(URL, body=refused)
    with pytest.raises(ProviderUnavailable) as caught:
        client.unblock(["id-1"])
    assert caught.value.proves_not_applied


@responses.activate
def test_connect_timeout_is_unavailable(client):
    responses.delete(URL, body=requests.exceptions.ConnectTimeout("slow"))
    with pytest.raises(ProviderUnavailable):
        client.unblock(["id-1"])


@responses.activate
def test_read_timeout_on_get_is_unavailable_not_unknown(client):
    responses.get(URL, body=requests.exceptions.ReadTimeout("timed out"))
    with pytest.raises(ProviderUnavailable):
        client.list_blocked_leads()


@responses.activate
def test_every_request_has_connect_and_read_timeouts(client):
    responses.get(URL, json=[])
    seen = {}
    original = client.session.request

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    client.session.request = spy
    client.list_blocked_leads()
    assert seen["timeout"] == (client.timeouts.connect, client.timeouts.read)


@responses.activate
def test_unobserved_client_retries_a_get_after_503():
    client = WaleadClient(base_url=BASE, api_key=KEY)
    responses.get(URL, status=503, json={})
    responses.get(URL, json=[lead(1)])
    assert [x.id for x in client.list_blocked_leads()] == ["id-1"]
    assert len(responses.calls) == 2


@responses.activate
def test_delete_is_never_retried_by_the_transport(client):
    responses.delete(URL, status=503, json={})
    responses.delete(URL, json={"success": True, "unblocked": 1})
    with pytest.raises(ProviderUnavailable):
        client.unblock(["id-1"])
    assert len(responses.calls) == 1


@responses.activate
def test_observed_client_reports_each_attempt_and_does_not_retry_gets():
    log = RecordingLog()
    client = WaleadClient(base_url=BASE, api_key=KEY, call_log=log)
    responses.get(URL, status=503, json={"message": "busy"})
    with pytest.raises(ProviderUnavailable):
        client.list_blocked_leads(search="x")
    assert len(responses.calls) == 1
    started, finished = log.events
    assert started[:4] == ("started", "GET", "/v1/blocked-leads?sort=DESC&offset=0&search=x", 0)
    assert finished[2] == 503
    assert "busy" in finished[4]
    assert all(KEY not in str(event) for event in log.events)


@responses.activate
def test_observed_write_records_body_and_answer():
    log = RecordingLog()
    client = WaleadClient(base_url=BASE, api_key=KEY, call_log=log)
    responses.delete(URL, json={"success": True, "message": "ok", "unblocked": 2})
    client.unblock(["id-1", "id-2"])
    assert log.events[0] == ("started", "DELETE", "/v1/blocked-leads", 2, '["id-1","id-2"]')
    assert log.events[1][2] == 200
    assert '"unblocked": 2' in log.events[1][3]


@responses.activate
def test_block_posts_leads_and_reads_count(client):
    responses.post(URL, json={"success": True, "message": "ok", "blocked": 1})
    assert client.block([("anna-k", "Competitor"), ("bob", None)]) == 1
    assert json.loads(responses.calls[0].request.body) == {
        "leads": [
            {"publicIdentifier": "anna-k", "reason": "Competitor"},
            {"publicIdentifier": "bob"},
        ]
    }


def test_repr_never_shows_the_key(client):
    assert KEY not in repr(client)


@responses.activate
def test_half_a_surrogate_pair_or_an_unknown_charset_still_reads(client):
    body = '[{"id": "id-1", "publicIdentifier": "ann\\ud800e", "reason": "\\ude00"}]'
    responses.get(URL, body=body, content_type="application/json; charset=no-such-charset")
    [lead] = client.list_blocked_leads()
    assert (lead.public_identifier, lead.reason) == ("ann\ufffde", "\ufffd")
    lead.public_identifier.encode("utf-8")  # storable: no lone surrogate left


@responses.activate
def test_a_lead_id_longer_than_the_audit_keeps_is_a_malformed_answer(client):
    responses.get(URL, json=[{**lead(1), "id": "x" * 321}])
    with pytest.raises(ProviderMalformedAnswer, match="id is 321 characters long"):
        client.list_blocked_leads()
