"""Refusals and errors are pages of the site, saying why."""

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_refusal_names_the_role_the_page_needs(operator_client):
    response = operator_client.get(reverse("audit:operations"))
    html = response.content.decode()
    assert response.status_code == 403
    assert "This page is for <strong>Auditors</strong>" in html
    assert reverse("woodpecker:blacklist") in html  # the site's navigation


def test_an_auditor_refused_an_operators_page(auditor_client):
    html = auditor_client.get(reverse("jobs:mine")).content.decode()
    assert "This page is for <strong>Operators</strong>" in html


def test_not_found_is_a_page_of_the_site(operator_client):
    response = operator_client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert 'data-testid="not-found-why"' in html
    assert "/no/such/page/" in html
    assert "URLconf" not in html  # never Django's list of URL patterns


def test_the_server_error_page_stands_alone():
    html = render_to_string("500.html")
    assert "Something went wrong" in html
    assert "job page or the audit" in html


def test_an_error_report_hides_the_key_held_by_the_client_factory(settings, monkeypatch):
    import sys

    from django.views.debug import ExceptionReporter

    from suppression_admin import connections

    settings.SUPPRESSION_SANDBOX = False
    settings.WOODPECKER_BASE_URL = "https://wp.test/rest"
    settings.WOODPECKER_API_KEY = "a-secret-key-0123456789"

    def failing(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(connections, "one_request_at_a_time", failing)
    try:
        connections.woodpecker_client()
    except RuntimeError:
        frames = ExceptionReporter(None, *sys.exc_info()).get_traceback_frames()
    [factory] = [frame for frame in frames if frame["function"] == "woodpecker_client"]
    shown = repr(factory["vars"])
    assert "endpoint" in shown
    assert "a-secret-key-0123456789" not in shown
