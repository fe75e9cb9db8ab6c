"""The blacklist searches and the preview's decision, in a real browser against the sandbox."""

import pytest
from playwright.sync_api import expect

from suppression_admin.jobs.models import Job
from suppression_admin.sandbox.models import SandboxBlacklistedEmail
from tests.conftest import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
PASSWORD = "pw-for-tests-only"


def log_in(page, base: str, next_path: str) -> None:
    page.goto(f"{base}{next_path}")
    page.get_by_label("Username").fill("olga.operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_searches_answer_truly_and_a_useless_removal_is_not_offered(page, sandbox, workers):
    make_user("olga.operator", "Operators")
    listed = sorted(SandboxBlacklistedEmail.objects.values_list("email", flat=True))
    part = listed[0].split("@")[0][2:7]  # a piece from inside an address
    containing = [email for email in listed if part in email]
    base = sandbox.url
    log_in(page, base, "/woodpecker/")

    # Typing part of an address finds every address containing it.
    box = page.get_by_label("Search: part of an address")
    box.press_sequentially(part, delay=40)
    expect(page.get_by_test_id("range")).to_contain_text(f"of {len(containing)} matching")
    expect(page.locator("#results tbody tr")).to_have_count(min(len(containing), 100))
    history = page.evaluate("history.length")

    # Ten pasted addresses: a true answer for each.
    unlisted = [f"nobody{n}@nowhere.example" for n in range(5)]
    pasted = listed[10:15] + unlisted
    box.fill("\n".join(pasted))
    expect(page.get_by_test_id("verdict-summary")).to_have_text(
        "5 of 10 addresses are on the blacklist."
    )
    for address in pasted:
        row = page.get_by_test_id("verdicts").locator("tr", has_text=address)
        expect(row).to_contain_text("Yes" if address in listed else "No")
    assert page.evaluate("history.length") == history  # typing replaced, never pushed

    # A search that fails leaves no earlier answer looking current.
    page.route(lambda url: "email_filter=boom" in url, lambda route: route.fulfill(status=502))
    box.fill("boom")
    expect(page.locator("#results")).to_contain_text("The server could not answer (HTTP 502)")
    expect(page.get_by_test_id("verdicts")).to_have_count(0)

    # "/" puts the cursor back in the search box.
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(box).to_be_focused()

    # A list of addresses none of which is blacklisted: the preview says so, no button.
    workers("worker")
    page.goto(f"{base}/woodpecker/remove/")
    page.locator("textarea[name=pasted]").fill("\n".join(unlisted[:3]))
    page.get_by_role("button", name="Read and preview").click()
    expect(page.get_by_test_id("nothing-to-do")).to_contain_text(
        "None of these 3 addresses is on the blacklist now", timeout=30_000
    )
    expect(page.get_by_test_id("send")).to_have_count(0)
    expect(page.locator("#send-button")).to_have_count(1)  # swapped in place, not added
    expect(page.get_by_text("Send anyway", exact=True)).to_be_visible()
    # Enter in a field sends nothing.
    page.get_by_label("Reason for the removal").fill("Clean-up")
    page.get_by_label("Ticket or reference").press("Enter")
    page.wait_for_timeout(500)
    assert "/remove/" in page.url
    assert Job.objects.count() == 0
    # The live region said what the count found, once.
    expect(page.locator("#announce")).to_have_text("0 on the blacklist now")


def test_the_opted_out_are_excluded_in_one_click(page, sandbox):
    make_user("olga.operator", "Operators")
    base = sandbox.url
    log_in(page, base, "/walead/")
    page.get_by_label("Select all on this page").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("25 selected")
    opted_out = page.locator("#results tr.opt-out").count()
    assert opted_out, "the sandbox's first page holds people who asked not to be contacted"

    page.get_by_role("link", name="Review and unblock…").click()
    expect(page.locator("#opt-out-warning")).to_contain_text(f"{opted_out} of these people")
    page.get_by_test_id("exclude-opt-outs").click()
    expect(
        page.get_by_role("heading", name=f"Unblock {25 - opted_out} leads in WaLead?")
    ).to_be_visible()
    expect(page.locator("#opt-out-warning")).to_have_count(0)
    expect(page.locator("tr.opt-out")).to_have_count(0)

    # One more left out from the confirmation itself.
    page.get_by_role("button", name="Leave out").first.click()
    expect(
        page.get_by_role("heading", name=f"Unblock {24 - opted_out} leads in WaLead?")
    ).to_be_visible()
