"""A person's history across the audit, and asking a provider about them now."""

import pytest
import responses
from django.test import Client
from django.urls import reverse

from suppression_admin.audit.models import AccessKind, AccessRecord, ItemOutcome, Provider
from suppression_admin.audit.services import ItemDraft
from tests.audit_factories import record_operation
from tests.conftest import TEST_WALEAD_URL, TEST_WOODPECKER_URL, make_user

pytestmark = pytest.mark.django_db

BLACKLIST = f"{TEST_WOODPECKER_URL}/v2/blacklist/emails"
BLOCKED = f"{TEST_WALEAD_URL}/v1/blocked-leads"


def person_url(identifier: str) -> str:
    return reverse("audit:person", args=[identifier])


def test_a_persons_history_lists_every_operation_oldest_first(auditor_client, operator, auditor):
    first = record_operation(
        operator,
        [ItemDraft("ann@example.com"), ItemDraft("bob@example.com")],
        provider=Provider.WOODPECKER,
        reason="Cleanup of March",
        ticket="SUP-1",
    )
    second = record_operation(
        auditor,
        [ItemDraft("ANN@example.com")],
        provider=Provider.WOODPECKER,
        reason="Asked again",
        outcome=ItemOutcome.NOT_LISTED,
    )
    record_operation(operator, [ItemDraft("bob@example.com")], provider=Provider.WOODPECKER)
    response = auditor_client.get(person_url(" Ann@Example.com "))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="person-row"') == 2
    assert html.index(f"#{first.pk}<") < html.index(f"#{second.pk}<")
    for text in (
        "Cleanup of March",
        "SUP-1",
        "Asked again",
        "aaron.auditor",
        "Was not on the list",
    ):
        assert text in html
    record = AccessRecord.objects.get()
    assert (record.kind, record.detail) == (AccessKind.PERSON, {"identifier": "ann@example.com"})


def test_a_lead_is_found_by_its_profile_url_and_linked_from_the_detail(auditor_client, operator):
    operation = record_operation(operator, [ItemDraft("101", "Maria-Gonzalez")])
    detail = auditor_client.get(reverse("audit:operation_detail", args=[operation.pk]))
    link = person_url("maria-gonzalez")
    assert f'href="{link}"' in detail.content.decode()
    html = auditor_client.get(
        person_url("https://www.linkedin.com/in/maria-gonzalez/")
    ).content.decode()
    assert html.count('data-testid="person-row"') == 1
    assert f'{reverse("walead:check")}?lead=Maria-Gonzalez"' in html
    # Reached by the lead id, WaLead is still asked by the public identifier.
    by_id = auditor_client.get(person_url("101")).content.decode()
    assert f'{reverse("walead:check")}?lead=Maria-Gonzalez"' in by_id


def test_nobody_known_says_so(auditor_client):
    html = auditor_client.get(person_url("nobody@example.com")).content.decode()
    assert 'data-testid="person-nothing"' in html


def test_the_history_is_for_auditors(operator_client):
    assert operator_client.get(person_url("ann@example.com")).status_code == 403


@pytest.mark.usefixtures("live_providers")
@responses.activate
@pytest.mark.parametrize(
    ("listed", "says"), [(["ann@example.com"], "Blocked"), ([], "Not blocked")]
)
def test_asking_woodpecker_now(auditor_client, listed, says):
    responses.get(BLACKLIST, json={"emails": listed, "total": len(listed)})
    html = auditor_client.get(reverse("woodpecker:check"), {"email": "Ann@example.com"})
    assert says in html.content.decode()
    assert "email_filter=Ann%40example.com" in responses.calls[0].request.url
    record = AccessRecord.objects.get()
    assert record.kind == AccessKind.PROVIDER_CHECK
    assert record.detail == {"provider": "woodpecker", "identifier": "Ann@example.com"}


@pytest.mark.usefixtures("live_providers")
@responses.activate
@pytest.mark.parametrize(
    ("name", "param", "value"), [("woodpecker", "email", "ann"), ("walead", "lead", "a")]
)
def test_a_check_needs_a_whole_identifier(auditor_client, name, param, value):
    html = auditor_client.get(reverse(f"{name}:check"), {param: value}).content.decode()
    assert "Not checked" in html
    assert "whole" in html
    assert not responses.calls
    assert not AccessRecord.objects.exists()


@pytest.mark.usefixtures("live_providers")
@responses.activate
def test_asking_walead_now_matches_the_whole_identifier(auditor_client):
    near = {"id": "1", "publicIdentifier": "maria-gonzalez-2", "reason": "", "createdAt": "x"}
    responses.get(BLOCKED, json=[near])
    responses.get(BLOCKED, json=[])
    html = auditor_client.get(reverse("walead:check"), {"lead": "maria-gonzalez"})
    assert "Not blocked" in html.content.decode()


@pytest.mark.usefixtures("live_providers")
@responses.activate
def test_a_provider_error_is_said_in_words(auditor_client):
    responses.get(BLACKLIST, status=500, json={"detail": "down"})
    html = auditor_client.get(reverse("woodpecker:check"), {"email": "a@x.com"})
    assert html.status_code == 200
    assert "Not checked" in html.content.decode()
    pattern = auditor_client.get(reverse("woodpecker:check"), {"email": "a*@x.com"})
    assert "cannot be looked up exactly" in pattern.content.decode()


def test_checks_need_a_role():
    client = Client()
    client.force_login(make_user("nobody.special"))
    assert client.get(reverse("woodpecker:check"), {"email": "a@x.com"}).status_code == 403
    assert Client().get(reverse("walead:check")).status_code == 302
