"""Bulk removal in a real browser, with a real worker process: upload to audit."""

import csv
import io

import pytest
from playwright.sync_api import expect

from suppression_admin.audit.models import OperationStatus
from suppression_admin.jobs.models import Job
from suppression_admin.sandbox.models import SandboxBlacklistedEmail
from tests.browser.test_unblock_journey import log_in
from tests.conftest import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_operator_uploads_previews_confirms_and_watches_the_job(page, sandbox, workers, tmp_path):
    base = sandbox.url
    make_user("ola.operator", "Operators", "Auditors")
    listed = list(SandboxBlacklistedEmail.objects.order_by("email").values_list("email", flat=True))
    chosen = listed[:150]
    rows = [
        "Name;E-mail;Note",
        *(f"Person {i};{email.upper()};x" for i, email in enumerate(chosen)),
    ]
    rows += [
        "Broken;not-an-address;x",
        f"Twice;{chosen[0]};x",
        "Stranger;stranger@nowhere.example;x",
    ]
    path = tmp_path / "clean-up.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("utf-8-sig"))
    workers("worker")

    log_in(page, base, "ola.operator", "/woodpecker/remove/")
    page.get_by_label("Spreadsheet (CSV or Excel .xlsx)").set_input_files(str(path))
    page.get_by_role("button", name="Read and preview").click()

    expect(page.get_by_test_id("rows")).to_have_text("153")
    expect(page.get_by_test_id("valid")).to_have_text("151")
    expect(page.get_by_test_id("invalid")).to_have_text("1")
    expect(page.get_by_test_id("duplicates")).to_have_text("1")
    expect(page.locator("body")).to_contain_text("not-an-address")
    # The blacklist look-up runs in the worker; the page polls until it is done.
    expect(page.get_by_test_id("blacklisted")).to_have_text("150", timeout=30_000)

    page.get_by_label("Reason for the removal").fill("Clients who asked to hear from us again")
    page.get_by_label("Ticket or reference").fill("SUP-77")
    page.get_by_role("button", name="Remove the 150 on the blacklist (all 151 are sent)").click()

    expect(page.get_by_test_id("job-status")).to_have_text("Succeeded", timeout=60_000)
    expect(page.get_by_test_id("done")).to_have_text("150")
    expect(page.get_by_test_id("not-listed")).to_have_text("1")
    expect(page.get_by_test_id("percent")).to_have_text("100%")
    expect(page.locator("body")).to_contain_text("keep that status")
    assert not SandboxBlacklistedEmail.objects.filter(email__in=chosen).exists()
    job = Job.objects.select_related("operation").get()
    assert job.status == OperationStatus.SUCCEEDED

    with page.expect_download() as download_info:
        page.get_by_test_id("result-csv").click()
    result = list(csv.reader(io.StringIO(download_info.value.path().read_text())))
    assert len(result) == 1 + 151 + 1  # every valid address, and the invalid row
    assert ["not-an-address", "Invalid", "Row 152: not a valid email address; not sent."] in result
    assert [
        "stranger@nowhere.example",
        "Was not on the list",
        "Was not on the blacklist.",
    ] in result

    page.get_by_role("link", name=f"audit operation #{job.pk}").click()
    expect(page.locator("body")).to_contain_text("clean-up.csv")
    expect(page.locator("body")).to_contain_text("SUP-77")
    page.goto(f"{base}/audit/?identifier=stranger%40nowhere.example")
    expect(page.get_by_test_id("operation-row")).to_have_count(1)
    assert page.problems == []
