"""Sign-in and sessions: failed sign-ins throttled (forged headers do not help), idle and
absolute session limits, changing one's password, a deactivated account out at once."""

import logging
import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from suppression_admin.accounts.sessions import ACTIVE_AT, LOGGED_IN_AT

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"
LOGIN = reverse("login")
ADMIN_LOGIN = "/admin/login/"


def sign_in(client, username, password, *, url=LOGIN, **headers):
    return client.post(url, {"username": username, "password": password}, headers=headers)


def signed_in(client) -> bool:
    return client.get(reverse("home")).status_code == 200


def test_five_failures_refuse_the_username_even_with_the_right_password(operator):
    client = Client()
    for _ in range(4):
        assert sign_in(client, "olivia.operator", "wrong").status_code == 200
    assert sign_in(client, "olivia.operator", "wrong").status_code == 429  # the fifth
    refused = sign_in(client, "olivia.operator", PASSWORD)
    assert refused.status_code == 429
    html = refused.content.decode()
    assert 'data-testid="locked-out"' in html
    assert "olivia.operator" in html
    assert "15 minutes" in html
    assert not signed_in(client)


@pytest.mark.parametrize("proxies", [0, 1])
def test_a_forged_forwarded_for_does_not_reset_the_count(settings, operator, proxies):
    settings.TRUSTED_PROXY_COUNT = proxies
    for n in range(5):
        sign_in(Client(), "olivia.operator", "wrong", x_forwarded_for=f"198.51.100.{n}, 10.0.0.9")
    refused = sign_in(Client(), "olivia.operator", PASSWORD, x_forwarded_for="203.0.113.1")
    assert refused.status_code == 429


def test_one_address_guessing_many_names_is_refused_too(operator):
    for n in range(5):
        sign_in(Client(REMOTE_ADDR="192.0.2.7"), f"someone{n}", "wrong")
    assert sign_in(Client(REMOTE_ADDR="192.0.2.7"), "olivia.operator", PASSWORD).status_code == 429
    elsewhere = Client(REMOTE_ADDR="192.0.2.8")
    assert sign_in(elsewhere, "olivia.operator", PASSWORD).status_code == 302
    assert signed_in(elsewhere)


def test_the_admin_sign_in_counts_and_is_refused_alike(operator):
    for _ in range(5):
        sign_in(Client(), "olivia.operator", "wrong", url=ADMIN_LOGIN)
    assert sign_in(Client(), "olivia.operator", PASSWORD, url=ADMIN_LOGIN).status_code == 429
    assert sign_in(Client(), "olivia.operator", PASSWORD).status_code == 429


def test_the_refusal_ends_after_the_cool_off(operator):
    for _ in range(5):
        sign_in(Client(), "olivia.operator", "wrong")
    AccessAttempt.objects.update(attempt_time=time_ago(minutes=16))
    client = Client()
    assert sign_in(client, "olivia.operator", PASSWORD).status_code == 302
    assert signed_in(client)


def test_failed_sign_ins_are_logged_without_the_password(operator, caplog):
    with caplog.at_level(logging.INFO):
        sign_in(Client(), "olivia.operator", "secret-guess-123")
    logged = caplog.text
    assert "olivia.operator" in logged
    assert "secret-guess-123" not in logged


def test_each_sign_in_event_is_one_log_line(operator, caplog):
    def axes_lines() -> list[str]:
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("axes")]
        caplog.clear()
        return lines

    with caplog.at_level(logging.INFO):
        sign_in(Client(), "olivia.operator", "wrong")
        [failure] = axes_lines()
        assert "login failure" in failure
        assert sign_in(Client(), "olivia.operator", PASSWORD).status_code == 302
        assert axes_lines() == []  # a sign-in that works is no event for the log
        for _ in range(5):
            sign_in(Client(), "olivia.operator", "wrong")
        lines = axes_lines()
    failures = [line for line in lines if " login failure by " in line]
    assert len(failures) == 5
    assert lines[5:] == [lines[-1]]
    assert lines[-1].startswith('AXES: Locking out {username: "olivia.operator"')


def time_ago(**delta):
    from django.utils import timezone

    return timezone.now() - timedelta(**delta)


def session_aged(client, key: str, seconds: float) -> None:
    session = client.session
    session[key] = time.time() - seconds
    if key == LOGGED_IN_AT:
        session[ACTIVE_AT] = time.time()
    session.save()


@pytest.fixture
def signed_in_client(operator):
    client = Client()
    assert sign_in(client, "olivia.operator", PASSWORD).status_code == 302
    assert signed_in(client)
    return client


def test_idle_for_longer_than_the_limit_signs_out(signed_in_client):
    session_aged(signed_in_client, ACTIVE_AT, 31 * 60)
    response = signed_in_client.get(reverse("jobs:mine"))
    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
    page = signed_in_client.get(response.url).content.decode()
    assert "signed out after 30 minutes without activity" in page


def test_a_page_polling_itself_is_not_activity(signed_in_client):
    session_aged(signed_in_client, ACTIVE_AT, 29 * 60)
    signed_in_client.get(reverse("jobs:mine"), headers={"X-Poll": "1"})
    assert time.time() - signed_in_client.session[ACTIVE_AT] > 28 * 60
    signed_in_client.get(reverse("jobs:mine"))
    assert time.time() - signed_in_client.session[ACTIVE_AT] < 5


def test_a_sign_in_lasts_twelve_hours_at_most(signed_in_client):
    session_aged(signed_in_client, LOGGED_IN_AT, 12 * 3600 + 60)
    response = signed_in_client.get(reverse("home"))
    assert response.status_code == 302
    assert "lasts 12 hours at most" in signed_in_client.get(response.url).content.decode()


def test_people_change_their_own_password(signed_in_client):
    url = reverse("password_change")
    assert "Change your password" in signed_in_client.get(url).content.decode()
    changed = signed_in_client.post(
        url,
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-passphrase-42",
            "new_password2": "a-new-long-passphrase-42",
        },
    )
    assert changed.url == reverse("password_change_done")
    assert signed_in(signed_in_client)  # this session goes on
    assert sign_in(Client(), "olivia.operator", PASSWORD).status_code == 200
    assert sign_in(Client(), "olivia.operator", "a-new-long-passphrase-42").status_code == 302


def test_a_deactivated_account_is_out_on_its_next_request(signed_in_client, operator):
    operator.is_active = False
    operator.save()
    response = signed_in_client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


def test_nothing_a_signed_in_person_sees_is_kept_by_a_cache(signed_in_client, operator):
    from suppression_admin.audit.services import ItemDraft
    from tests.audit_factories import record_operation

    record_operation(operator, [ItemDraft("a@example.com")])
    operator.groups.add(Group.objects.get(name="Auditors"))
    for url in (reverse("home"), reverse("audit:operations"), reverse("audit:export_csv")):
        response = signed_in_client.get(url)
        assert response.status_code == 200, url
        cache = response["Cache-Control"]
        assert "no-store" in cache, url
        assert "private" in cache, url
    page = signed_in_client.get(reverse("home")).content.decode()
    assert '"historyCacheSize": 0' in page
