"""Every URL pattern: login required, permission enforced, CSRF enforced; and the CSP."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import make_user

# Patterns outside the walk, and why.
EXEMPT_PREFIXES = (
    "admin/",  # Django admin: its own login and staff checks
    "sandbox/",  # provider APIs: authenticated by x-api-key, 404 unless sandbox mode
    "accounts/login/",  # must be reachable to log in
    "healthz",  # for load balancers: no login, nothing about people (tests/views/test_health.py)
)
# Pages any logged-in user may see.
OPEN_TO_ANY_USER = {"", "accounts/logout/", "accounts/password/", "accounts/password/done/"}
SAMPLE_VALUES = {
    "int": "1",
    "uuid": "00000000-0000-4000-8000-000000000001",
    "str": "x",
    "path": "ann@example.com",
}


def all_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from all_patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def concrete(route: str) -> str:
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_VALUES[m.group(1) or "str"], route)


ROUTES = sorted(
    concrete(route) for route, _ in all_patterns() if not route.startswith(EXEMPT_PREFIXES)
)


def test_the_walk_covers_the_app_pages():
    assert "/walead/" in ROUTES
    assert "/audit/export.csv" in ROUTES
    assert "/woodpecker/" in ROUTES
    assert len(ROUTES) >= 12


@pytest.mark.parametrize("path", ROUTES)
def test_anonymous_is_sent_to_login(client, path, db):
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 302, (method, path)
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("path", [p for p in ROUTES if p.lstrip("/") not in OPEN_TO_ANY_USER])
def test_logged_in_without_permission_is_forbidden(client, outsider, path):
    client.force_login(outsider)
    assert client.get(path).status_code in (403, 405)
    assert client.post(path).status_code in (403, 405)
    # A GET-only page answers 405 to POST; every page must say 403 to one of the two.
    assert 403 in (client.get(path).status_code, client.post(path).status_code)


@pytest.mark.parametrize("path", ROUTES)
def test_post_without_csrf_token_is_forbidden(path, db):
    superuser = make_user("root")
    superuser.is_superuser = True
    superuser.save()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(superuser)
    response = strict.post(path, {"reason": "x"})
    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_operators_cannot_review_the_audit(operator_client):
    assert operator_client.get(reverse("audit:operations")).status_code == 403


def test_auditors_cannot_unblock(auditor_client):
    assert auditor_client.get(reverse("walead:blocked_leads")).status_code == 403
    assert auditor_client.post(reverse("walead:unblock_submit")).status_code == 403


def test_pages_carry_a_nonce_csp_without_unsafe_inline(operator_client):
    response = operator_client.get(reverse("home"))
    policy = response.headers["Content-Security-Policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    html = response.content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts
    assert all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert "htmx-2.min.js" in html
    assert ' style="' not in html
    assert "hx-on" not in html


def test_the_vendored_htmx_is_the_2_x_line():
    from django.contrib.staticfiles import finders

    path = finders.find("django_htmx/htmx-2.min.js")
    assert path.endswith("static/django_htmx/htmx-2.min.js")  # ours, not the bundled copy
    with open(path) as handle:
        assert re.search(r'version:"2\.\d+\.\d+"', handle.read())


def test_login_page_is_public(client, db):
    assert client.get(reverse("login")).status_code == 200


def test_sandbox_banner_only_in_sandbox_mode(operator_client, settings):
    settings.SUPPRESSION_SANDBOX = False
    assert b"Sandbox mode" not in operator_client.get(reverse("home")).content
    settings.SUPPRESSION_SANDBOX = True
    assert b"Sandbox mode" in operator_client.get(reverse("home")).content


def test_the_banner_tells_per_provider_where_requests_go(operator_client, settings):
    settings.SUPPRESSION_SANDBOX = True
    settings.WALEAD_BASE_URL = ""
    settings.WOODPECKER_BASE_URL = ""
    html = operator_client.get(reverse("home")).content.decode()
    assert "WaLead: sandbox · Woodpecker: sandbox." in html
    assert "Nothing here reaches WaLead or Woodpecker." in html
    assert 'class="sandbox-banner"' in html
    settings.WOODPECKER_BASE_URL = "https://woodpecker.example/rest"
    settings.WOODPECKER_API_KEY = "a-live-key-0123456789"
    html = operator_client.get(reverse("home")).content.decode()
    assert "Woodpecker: <strong>live at woodpecker.example</strong>" in html
    assert 'class="sandbox-banner live"' in html
    assert "a-live-key-0123456789" not in html
