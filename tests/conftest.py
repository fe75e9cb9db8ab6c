"""Fixtures shared by the whole suite: users in each role, provider settings."""

import pytest
from django.contrib.auth.models import Group, Permission, User

from suppression_admin.accounts.roles import ensure_roles

TEST_WALEAD_URL = "https://walead.test/api"
TEST_WALEAD_KEY = "walead-test-key-0123456789"
TEST_WOODPECKER_URL = "https://woodpecker.test/rest"
TEST_WOODPECKER_KEY = "woodpecker-test-key-0123456789"


def make_user(username: str, *groups: str) -> User:
    # A transactional test elsewhere may have flushed the groups the migration created.
    ensure_roles(Group, Permission)
    user = User.objects.create_user(username=username, password="pw-for-tests-only")
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture
def operator(db) -> User:
    return make_user("olivia.operator", "Operators")


@pytest.fixture
def auditor(db) -> User:
    return make_user("aaron.auditor", "Auditors")


@pytest.fixture
def outsider(db) -> User:
    return make_user("nina.norole")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


@pytest.fixture
def live_providers(settings):
    """Both providers configured as if live, at fake hosts that `responses` intercepts."""
    settings.SUPPRESSION_SANDBOX = False
    settings.WALEAD_BASE_URL = TEST_WALEAD_URL
    settings.WALEAD_API_KEY = TEST_WALEAD_KEY
    settings.WOODPECKER_BASE_URL = TEST_WOODPECKER_URL
    settings.WOODPECKER_API_KEY = TEST_WOODPECKER_KEY
    return settings


@pytest.fixture
def no_retry_sleep(monkeypatch):
    """Record the waits a retry loop asks for instead of sleeping through them."""
    waits: list[float] = []
    monkeypatch.setattr("suppression_admin.walead.services.sleep", waits.append)
    return waits


SANDBOX_TEST_KEY = "sandbox-test-key"


@pytest.fixture
def sandbox(live_server, settings):
    """The app in sandbox mode, its providers served over loopback by the live server.

    Tests using it need ``@pytest.mark.django_db(transaction=True, serialized_rollback=True)``:
    the live server sees only committed data, and the rollback restores the role groups.
    """
    from suppression_admin.sandbox import ratelimit
    from suppression_admin.sandbox.seed import seed_sandbox_data

    settings.SUPPRESSION_SANDBOX = True
    settings.SANDBOX_BASE_URL = live_server.url
    settings.SANDBOX_API_KEY = SANDBOX_TEST_KEY
    settings.WALEAD_BASE_URL = ""
    settings.WOODPECKER_BASE_URL = ""
    ratelimit.reset_limiters()
    seed_sandbox_data(leads=60, emails=200)
    return live_server
