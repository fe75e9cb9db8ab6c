"""Every page, as each role sees it: no serious or critical accessibility violation (axe-core,
vendored in tests/browser/vendor) and, at a phone's 390 px, no sideways scrolling of the page."""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from suppression_admin.woodpecker.models import RemovalDraft
from tests.conftest import make_user
from tests.woodpecker.factories import make_draft, start_job

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
PASSWORD = "pw-for-tests-only"
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def problems_on(
    browser, base: str, username: str | None, paths: list[str], prepare=None
) -> list[str]:
    """Each problem in words: the page, what is wrong, where. ``prepare(page)`` runs once
    after logging in (to tick a selection, say)."""
    found: list[str] = []
    # The app's CSP forbids scripts it did not send; the test's own axe must run all the same.
    context = browser.new_context(bypass_csp=True, viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        if username:
            page.goto(f"{base}/accounts/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.locator("header nav")).to_be_visible()
        if prepare:
            prepare(page, base)
        for path in paths:
            for viewport in (DESKTOP, PHONE):
                page.set_viewport_size(viewport)
                page.goto(f"{base}{path}")
                page.wait_for_load_state("networkidle")
                where = f"{path} at {viewport['width']} px"
                wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if wide > 0:
                    found.append(f"{where}: the page scrolls sideways by {wide} px")
                page.add_script_tag(content=AXE)
                result = page.evaluate(
                    "async () => (await axe.run(document, {resultTypes: ['violations']}))"
                    ".violations.filter(v => ['serious', 'critical'].includes(v.impact))"
                    ".map(v => `${v.id} (${v.impact}): ${v.help} — `"
                    " + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join('; '))"
                )
                found.extend(f"{where}: {violation}" for violation in result)
    finally:
        context.close()
    return found


def select_a_lead(page, base: str) -> None:
    page.goto(f"{base}/walead/")
    page.locator('#results input[name="lead"]').first.check()
    expect(page.get_by_test_id("selected-count")).to_have_text("1 selected")


def test_every_page_of_each_role_is_accessible_and_fits_a_phone(browser, sandbox):
    operator = make_user("olga.operator", "Operators")
    make_user("abel.auditor", "Auditors")
    draft = make_draft(operator, ["ann@example.com", "bob@example.com"])
    RemovalDraft.objects.filter(pk=draft.pk).update(blacklisted_count=0)
    job = start_job(operator, ["cid@example.com"], schedule=False)
    base = sandbox.url

    operator_pages = [
        "/",
        "/walead/",
        "/walead/?search=a",
        "/walead/confirm/",
        "/woodpecker/",
        "/woodpecker/?email_filter=ann%40example.com+bob%40example.com",
        "/woodpecker/remove/",
        f"/woodpecker/remove/{draft.pk}/",
        "/jobs/",
        f"/jobs/{job.pk}/",
        "/accounts/password/",
        "/no-such-page/",
        "/audit/",  # 403: an operator is not an auditor
    ]
    auditor_pages = [
        "/",
        "/audit/",
        f"/audit/{job.pk}/",
        "/audit/people/cid@example.com/",
        "/audit/access/",
        "/walead/",  # 403
    ]
    problems = (
        problems_on(browser, base, "olga.operator", operator_pages, select_a_lead)
        + problems_on(browser, base, "abel.auditor", auditor_pages)
        + problems_on(browser, base, None, ["/accounts/login/"])
    )
    assert not problems, "\n".join(problems)


def test_times_are_shown_in_the_viewers_zone_with_utc_on_hover(browser, sandbox):
    operator = make_user("olga.operator", "Operators")
    job = start_job(operator, ["cid@example.com"], schedule=False)
    created = job.operation.created_at
    context = browser.new_context(timezone_id="Asia/Kolkata")  # UTC+05:30, no summer time
    page = context.new_page()
    try:
        page.goto(f"{sandbox.url}/accounts/login/")
        page.get_by_label("Username").fill("olga.operator")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{sandbox.url}/jobs/{job.pk}/")
        shown = page.locator("p.muted time").first
        local = created + timedelta(hours=5, minutes=30)
        expect(shown).to_have_text(f"{local:%Y-%m-%d %H:%M}")
        expect(shown).to_have_attribute("title", f"{created:%Y-%m-%d %H:%M} UTC")
    finally:
        context.close()
