"""Both lists' searches and selections, and the preview's decision, in a real browser against
the sandbox."""

import pytest
from playwright.sync_api import expect

from suppression_admin.jobs.models import Job
from suppression_admin.sandbox.models import SandboxBlacklistedEmail, SandboxBlockedLead
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

    # A long search keeps the page's width: the box grows down, the echoed pattern wraps.
    box.fill("y" * 250)
    expect(page.get_by_test_id("no-match")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

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

    # Sent anyway, deliberately: the button's own value goes with the form.
    page.get_by_text("Send anyway", exact=True).click()
    page.get_by_test_id("send-anyway").click()
    expect(page.get_by_test_id("job-status")).to_be_visible()
    assert Job.objects.count() == 1


def test_the_opted_out_are_excluded_in_one_click(page, sandbox):
    make_user("olga.operator", "Operators")
    base = sandbox.url
    log_in(page, base, "/walead/")
    page.get_by_label("Select all on this page").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("60 selected")
    opted_out = page.locator("#results tr.opt-out").count()
    assert opted_out, "the sandbox's first page holds people who asked not to be contacted"

    page.get_by_role("link", name="Review and unblock…").click()
    expect(page.locator("#opt-out-warning")).to_contain_text(f"{opted_out} of these people")
    page.get_by_test_id("exclude-opt-outs").click()
    expect(
        page.get_by_role("heading", name=f"Unblock {60 - opted_out} leads in WaLead?")
    ).to_be_visible()
    expect(page.locator("#opt-out-warning")).to_have_count(0)
    expect(page.locator("tr.opt-out")).to_have_count(0)

    # One more left out from the confirmation itself.
    page.get_by_role("button", name="Leave out").first.click()
    expect(
        page.get_by_role("heading", name=f"Unblock {59 - opted_out} leads in WaLead?")
    ).to_be_visible()


def test_the_blacklist_keeps_a_selection_across_pages_and_searches(page, sandbox):
    make_user("olga.operator", "Operators")
    listed = sorted(SandboxBlacklistedEmail.objects.values_list("email", flat=True))
    assert len(listed) > 100, "the sandbox's blacklist spans pages"
    log_in(page, sandbox.url, "/woodpecker/")
    bar = page.get_by_test_id("selected-count")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(100)
    first_page = rows.locator('input[name="email"]')
    ticked = [first_page.nth(0).get_attribute("value"), first_page.nth(1).get_attribute("value")]
    first_page.nth(0).check()
    first_page.nth(1).check()
    expect(bar).to_have_text("2 selected")

    page.get_by_role("link", name="Next →").click()
    expect(page.get_by_test_id("range")).to_contain_text("101–")  # noqa: RUF001
    on_page_two = page.locator('#results tbody input[name="email"]').first
    on_page_two.check()
    expect(bar).to_have_text("3 selected")
    ticked.append(on_page_two.get_attribute("value"))
    page.get_by_role("link", name="← Previous").click()
    for address in ticked[:2]:
        expect(page.get_by_label(f"Select {address}", exact=True)).to_be_checked()

    # Every match of a search joins what is ticked elsewhere; the bar counts them all.
    part = max("aeio", key=lambda letter: sum(letter in email for email in listed))
    matching = {email for email in listed if part in email}
    assert len(matching) > 100, "select-all is offered when the matches span pages"
    page.get_by_label("Search: part of an address").fill(part)
    expect(page.get_by_test_id("range")).to_contain_text(f"of {len(matching)} matching")
    page.get_by_test_id("select-all-matching").click()
    expect(bar).to_have_text(f"{len(matching | set(ticked))} selected")

    page.get_by_role("button", name="Clear selection").click()
    expect(bar).to_have_text("0 selected")
    expect(page.locator('#results input[name="email"]:checked')).to_have_count(0)

    # Ticked, then acted on from the bar: the preview names where they came from.
    box = page.locator('#results tbody input[name="email"]').first
    address = box.get_attribute("value")
    box.check()
    expect(bar).to_have_text("1 selected")
    page.get_by_test_id("selection-action").click()
    expect(page.locator("h1")).to_contain_text("addresses ticked on the blacklist page")
    expect(page.locator("body")).to_contain_text(address)

    # The browser's Back shows the list as it now is: the ticks went into the preview.
    page.go_back()
    expect(bar).to_have_text("0 selected")
    expect(page.locator('#results input[name="email"]:checked')).to_have_count(0)
    # The preview's own way back keeps them.
    page.go_forward()
    page.get_by_role("button", name="Back to the blacklist, keeping the ticks").click()
    expect(bar).to_have_text("1 selected")


def test_a_newer_search_is_never_given_an_older_searchs_figures(page, sandbox):
    """The count of the first page arrives after typing began: it must not relabel the new
    list (it once gave a search that found 6 the total of the whole list)."""
    make_user("olga.operator", "Operators")
    slugs = sorted(SandboxBlockedLead.objects.values_list("public_identifier", flat=True))
    log_in(page, sandbox.url, "/walead/")
    page.locator("#search").fill(f"{slugs[0]}, {slugs[1]}, nobody-at-all-here")
    expect(page.get_by_test_id("verdict-summary")).to_have_text("2 of 3 are blocked.")
    found = page.locator("#page-selection tbody tr").count()
    page.wait_for_timeout(1500)  # long past the first page's count
    expect(page.locator("#list-range")).to_have_text(f"Showing 1–{found} of {found}")  # noqa: RUF001
