"""Fixtures for the sandbox provider tests: sandbox on, a known key, fresh rate limiters."""

import pytest

from suppression_admin.sandbox import ratelimit

SANDBOX_KEY = "test-key"
WALEAD_URL = "/sandbox/walead/api/v1/blocked-leads"
WOODPECKER_URL = "/sandbox/woodpecker/rest/v2/blacklist/emails"


@pytest.fixture(autouse=True)
def sandbox_on(settings):
    settings.ROOT_URLCONF = "tests.sandbox.urls"
    settings.SUPPRESSION_SANDBOX = True
    settings.SANDBOX_API_KEY = SANDBOX_KEY
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 0
    return settings


@pytest.fixture(autouse=True)
def fresh_limiters(monkeypatch):
    """Every test starts with zeroed counters and a short queue wait, so none can hang long."""
    monkeypatch.setattr(ratelimit, "WOODPECKER_QUEUE_WAIT_SECONDS", 2.0)
    ratelimit.reset_limiters()
    yield
    ratelimit.reset_limiters()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"x-api-key": SANDBOX_KEY}
