"""The whole journey in a real browser: an operator unblocks, an auditor finds and exports it."""

import csv
import io

import pytest
from playwright.sync_api import expect

from suppression_admin.audit.models import Operation, OperationStatus
from suppression_admin.sandbox.models import SandboxBlockedLead
from tests.conftest import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
PASSWORD = "pw-for-tests-only"


def log_in(page, base_url: str, username: str, next_path: str) -> None:
    page.goto(f"{base_url}{next_path}")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.url.startswith(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_operator_unblocks_and_auditor_finds_and_exports_it(page, sandbox, workers):
    base = sandbox.url
    workers("worker")
    make_user("olga.operator", "Operators")
    make_user("abel.auditor", "Auditors")
    target = SandboxBlockedLead.objects.order_by("public_identifier").first()
    term = target.public_identifier[:6]
    matching = SandboxBlockedLead.objects.filter(public_identifier__icontains=term)

    # Operator: log in, search as you type, tick two leads, confirm with a reason.
    counts: list[str] = []
    page.on("request", lambda r: "matching-count" in r.url and counts.append(r.url))
    log_in(page, base, "olga.operator", "/walead/")
    expect(page.locator(".sandbox-banner")).to_be_visible()
    expect(page.locator("#results tbody tr")).to_have_count(60)  # a page holds 100
    # "Select all on this page" ticks the 60 rows in one go; unticking clears them again.
    page.get_by_label("Select all on this page").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("60 selected")
    page.get_by_label("Select all on this page").uncheck()
    expect(page.get_by_test_id("selected-count")).to_have_text("0 selected")
    expect(
        page.get_by_role("button", name="Select all 60 leads on the blocked list")
    ).to_be_visible()
    page.locator("#search").press_sequentially(term, delay=30)
    expect(page.locator("#results tbody tr")).to_have_count(min(matching.count(), 100))
    assert f"search={term}" in page.url

    # The count of matching leads is asked with its own parameters: never the form's CSRF
    # token in a URL (access logs keep URLs).
    assert counts
    assert not [url for url in counts if "csrfmiddlewaretoken" in url]

    # Several identifiers at once (a profile address among them): a true answer for each.
    page.locator("#search").fill(
        f"https://www.linkedin.com/in/{target.public_identifier}/\nnobody-at-all-here"
    )
    expect(page.get_by_test_id("verdict-summary")).to_have_text("1 of 2 are blocked.")
    expect(page.get_by_test_id("verdicts").locator("tbody tr").first).to_contain_text("Yes")
    expect(page.get_by_test_id("verdicts").locator("tbody tr").last).to_contain_text("No")

    page.get_by_label(f"Select {target.public_identifier}", exact=True).check()
    expect(page.get_by_test_id("selected-count")).to_have_text("1 selected")
    page.locator("#search").fill("")
    page.locator("#search").press_sequentially("a", delay=30)
    second = page.locator('#results input[name="lead"]:not(:checked)').first
    second_id = second.get_attribute("value")
    second.check()
    expect(page.get_by_test_id("selected-count")).to_have_text("2 selected")

    page.get_by_role("link", name="Review and unblock…").click()
    expect(page.get_by_role("heading", name="Unblock 2 leads in WaLead?")).to_be_visible()
    page.get_by_label("Reason for unblocking").fill("Client asked to hear from us again")
    page.get_by_label("Ticket or reference").fill("SUP-42")
    acknowledge = page.get_by_label("I confirm these people may be contacted again.")
    if acknowledge.count():
        acknowledge.check()
    page.get_by_role("button", name="Unblock 2 leads").click()

    # The job page follows the unblock as the worker sends it.
    expect(page.get_by_test_id("job-status")).to_have_text("Succeeded", timeout=60_000)
    expect(page.get_by_test_id("done")).to_have_text("2")
    expect(page.get_by_test_id("events")).to_contain_text(
        "Requested — 2 to send. (by olga.operator)"
    )
    assert not SandboxBlockedLead.objects.filter(id__in=[target.id, second_id]).exists()
    operation = Operation.objects.get()
    assert operation.status == OperationStatus.SUCCEEDED
    assert set(operation.items.values_list("identifier", flat=True)) == {target.id, second_id}

    # Auditor: find the operation by the lead's public identifier, open it, export it.
    page.get_by_role("button", name="Log out").click()
    log_in(page, base, "abel.auditor", "/audit/")
    page.locator("#id_identifier").fill(target.public_identifier)
    expect(page.get_by_test_id("operation-row")).to_have_count(1)
    expect(page.get_by_test_id("operation-row")).to_contain_text("olga.operator")

    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    exported = download_info.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))
    assert any(target.public_identifier in row for row in rows[1:])
    assert any("SUP-42" in row for row in rows[1:])

    page.get_by_role("link", name=f"#{operation.pk}").click()
    expect(page.locator("body")).to_contain_text(target.public_identifier)
    expect(page.locator("body")).to_contain_text("DELETE")

    # The person's history, from their identifier; WaLead asked now: no longer blocked.
    page.get_by_role("link", name=target.public_identifier).click()
    expect(page.get_by_test_id("person-row")).to_have_count(1)
    page.get_by_test_id("check-now").click()
    expect(page.get_by_test_id("check-walead")).to_contain_text("Not blocked")

    # On a phone, the audit's pages keep the screen's width (wide tables scroll in place).
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (page.url, f"{base}/audit/{operation.pk}/", f"{base}/audit/access/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    # The export, the check, and the history seen twice (desktop, then phone).
    expect(page.get_by_test_id("access-row")).to_have_count(4)
    assert page.problems == []  # no CSP violation, no script error on any page
