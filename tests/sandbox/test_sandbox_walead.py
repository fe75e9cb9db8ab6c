"""The sandbox WaLead blocked-leads endpoint, through Django's test client."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from suppression_admin.sandbox import walead_views
from suppression_admin.sandbox.models import (
    SANDBOX_WORKSPACE_ID,
    SandboxBlockedLead,
    new_lead_id,
)
from tests.sandbox.conftest import SANDBOX_KEY, WALEAD_URL

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, tzinfo=UTC)


def make_leads(count: int, *, prefix: str = "lead", reason: str | None = "Competitor") -> list:
    leads = []
    for n in range(count):
        created = START + timedelta(hours=n)
        leads.append(
            SandboxBlockedLead.objects.create(
                id=new_lead_id(created),
                public_identifier=f"{prefix}-{n:03d}",
                reason=reason,
                created_at=created,
            )
        )
    return leads


def delete(client, body, auth, *, raw: bool = False):
    data = body if raw else json.dumps(body)
    return client.delete(WALEAD_URL, data=data, content_type="application/json", headers=auth)


def post(client, body, auth):
    return client.post(WALEAD_URL, data=body, content_type="application/json", headers=auth)


def test_list_answers_the_documented_shape_newest_first(client, auth):
    make_leads(3)
    answer = client.get(WALEAD_URL, headers=auth)
    assert answer.status_code == 200
    rows = answer.json()
    assert [row["publicIdentifier"] for row in rows] == ["lead-002", "lead-001", "lead-000"]
    assert set(rows[0]) == {"id", "publicIdentifier", "reason", "createdAt", "workspaceId"}
    assert re.fullmatch(r"[0-9a-f]{24}", rows[0]["id"])
    assert rows[2]["createdAt"] == "2025-01-01T00:00:00.000Z"
    assert rows[0]["workspaceId"] == SANDBOX_WORKSPACE_ID
    assert rows[0]["reason"] == "Competitor"


def test_list_pages_by_server_page_size_until_empty(client, auth):
    make_leads(walead_views.WALEAD_PAGE_SIZE + 5)
    seen = []
    offset = 0
    while True:
        page = client.get(WALEAD_URL, {"sort": "ASC", "offset": offset}, headers=auth).json()
        if not page:
            break
        assert len(page) <= walead_views.WALEAD_PAGE_SIZE
        seen.extend(row["publicIdentifier"] for row in page)
        offset += len(page)
    assert seen == [f"lead-{n:03d}" for n in range(walead_views.WALEAD_PAGE_SIZE + 5)]


def test_list_search_is_case_insensitive_substring(client, auth):
    make_leads(2, prefix="maria-gonzalez")
    make_leads(1, prefix="j-smith")
    rows = client.get(WALEAD_URL, {"search": "GONZAL"}, headers=auth).json()
    assert sorted(row["publicIdentifier"] for row in rows) == [
        "maria-gonzalez-000",
        "maria-gonzalez-001",
    ]


def test_list_null_reason_stays_null(client, auth):
    make_leads(1, reason=None)
    assert client.get(WALEAD_URL, headers=auth).json()[0]["reason"] is None


@pytest.mark.parametrize(
    "params", [{"sort": "asc"}, {"sort": "UP"}, {"offset": "-1"}, {"offset": "ten"}]
)
def test_list_rejects_bad_sort_or_offset(client, auth, params):
    answer = client.get(WALEAD_URL, params, headers=auth)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert answer.json()["message"]


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong-key"}, {"x-api-key": ""}])
@pytest.mark.parametrize("method", ["get", "delete", "post"])
def test_wrong_or_missing_key_is_401_without_echoing_it(client, headers, method):
    answer = getattr(client, method)(WALEAD_URL, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"success": False, "message": "Unauthorized"}
    assert b"wrong-key" not in answer.content
    assert SANDBOX_KEY.encode() not in answer.content


def test_sandbox_off_is_404(client, auth, settings):
    settings.SUPPRESSION_SANDBOX = False
    assert client.get(WALEAD_URL, headers=auth).status_code == 404
    assert delete(client, ["x"], auth).status_code == 404


def test_other_methods_are_405(client, auth):
    assert client.put(WALEAD_URL, headers=auth).status_code == 405


def test_unblock_deletes_existing_ids_and_counts_only_them(client, auth):
    leads = make_leads(3)
    answer = delete(client, [leads[0].id, leads[1].id, "000000000000000000000000"], auth)
    assert answer.status_code == 200
    assert answer.json() == {"success": True, "message": "2 leads unblocked", "unblocked": 2}
    assert list(SandboxBlockedLead.objects.values_list("id", flat=True)) == [leads[2].id]


def test_unblock_twice_counts_zero_the_second_time(client, auth):
    lead = make_leads(1)[0]
    assert delete(client, [lead.id], auth).json()["unblocked"] == 1
    assert delete(client, [lead.id], auth).json()["unblocked"] == 0


@pytest.mark.parametrize("body", [[], {"ids": ["a"]}, ["a", 1], "abc", None, [["a"]]], ids=repr)
def test_unblock_rejects_anything_but_a_non_empty_array_of_strings(client, auth, body):
    make_leads(1)
    answer = delete(client, body, auth)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert SandboxBlockedLead.objects.count() == 1


def test_unblock_rejects_a_body_that_is_not_json(client, auth):
    answer = delete(client, "not json", auth, raw=True)
    assert answer.status_code == 400
    assert answer.json()["success"] is False


def test_block_creates_only_leads_not_blocked_yet(client, auth):
    make_leads(1, prefix="john-doe")
    answer = post(
        client,
        {
            "leads": [
                {"publicIdentifier": "JOHN-DOE-000"},
                {"publicIdentifier": "anna-kowalska-ba1b2c3d", "reason": "Requested opt-out"},
                {"publicIdentifier": "j-smith", "reason": None},
                {"publicIdentifier": "j-smith"},
            ]
        },
        auth,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True
    assert body["blocked"] == 2
    assert body["message"]
    anna = SandboxBlockedLead.objects.get(public_identifier="anna-kowalska-ba1b2c3d")
    assert anna.reason == "Requested opt-out"
    assert re.fullmatch(r"[0-9a-f]{24}", anna.id)
    assert SandboxBlockedLead.objects.get(public_identifier="j-smith").reason is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"leads": []},
        {"leads": "john-doe"},
        {"leads": [{"reason": "Competitor"}]},
        {"leads": [{"publicIdentifier": ""}]},
        {"leads": [{"publicIdentifier": 42}]},
        {"leads": [{"publicIdentifier": "a", "reason": 5}]},
        ["john-doe"],
    ],
    ids=repr,
)
def test_block_rejects_malformed_bodies(client, auth, body):
    answer = post(client, body, auth)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert not SandboxBlockedLead.objects.exists()


def test_the_project_urlconf_serves_both_providers_without_a_login(client, auth, settings):
    settings.ROOT_URLCONF = "suppression_admin.urls"
    make_leads(1)
    assert client.get(WALEAD_URL, headers=auth).status_code == 200
    woodpecker = "/sandbox/woodpecker/rest/v2/blacklist/emails"
    assert client.get(woodpecker, headers=auth).json() == {"emails": [], "total": 0}
