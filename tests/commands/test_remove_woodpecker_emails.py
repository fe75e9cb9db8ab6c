"""The CLI: same ingest and job code as the web, run in-process against the sandbox."""

import io
import json

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from suppression_admin.audit.models import Operation, OperationStatus, ProviderCall
from suppression_admin.jobs.models import Job
from suppression_admin.sandbox.models import SandboxBlacklistedEmail
from tests.conftest import make_user

CSV = b"email;name\r\nann@example.com;Ann\r\nbad-address;Bob\r\nANN@example.com;Ann\r\n"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("remove_woodpecker_emails", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_dry_run_json_reports_rows_and_changes_nothing(tmp_path, operator):
    path = tmp_path / "list.csv"
    path.write_bytes(CSV)
    out = run(str(path), "--reason", "r", "--actor", operator.username, "--dry-run", "--json")
    assert json.loads(out) == {
        "rows": 3,
        "valid": ["ann@example.com"],
        "invalid": [{"row": 3, "value": "bad-address", "error": "not a valid email address"}],
        "duplicates": 1,
    }
    assert Job.objects.count() == 0
    assert Operation.objects.count() == 0


@pytest.mark.django_db
def test_a_refused_file_is_a_clear_error(tmp_path, operator):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CommandError, match="empty"):
        run(str(path), "--reason", "r", "--actor", operator.username, "--dry-run")


@pytest.mark.django_db
def test_two_email_columns_name_the_choices(tmp_path, operator):
    path = tmp_path / "two.csv"
    path.write_bytes(b"work email,home email\r\na@w.com,a@h.com\r\n")
    with pytest.raises(CommandError, match="--column 2"):
        run(str(path), "--reason", "r", "--actor", operator.username, "--dry-run")
    out = run(
        str(path),
        "--reason",
        "r",
        "--actor",
        operator.username,
        "--dry-run",
        "--json",
        "--column",
        "2",
    )
    assert json.loads(out)["valid"] == ["a@h.com"]


@pytest.mark.django_db
def test_two_sheets_with_addresses_name_the_sheet_and_column_to_choose(tmp_path, operator):
    book = openpyxl.Workbook()
    book.active.append(["old@example.com"])
    book.create_sheet("Current").append(["new@example.com"])
    path = tmp_path / "lists.xlsx"
    book.save(path)
    with pytest.raises(CommandError, match=r'--sheet 2 --column 1 for column 1 .* "Current"'):
        run(str(path), "--reason", "r", "--actor", operator.username, "--dry-run")
    args = ("--reason", "r", "--actor", operator.username, "--dry-run", "--json")
    out = run(str(path), *args, "--sheet", "2", "--column", "1")
    assert json.loads(out)["valid"] == ["new@example.com"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("sandbox")
def test_removal_runs_the_job_and_audits_every_request(tmp_path):
    operator = make_user("cli.operator", "Operators")
    listed = list(SandboxBlacklistedEmail.objects.values_list("email", flat=True)[:120])
    path = tmp_path / "list.csv"
    path.write_text("email\n" + "\n".join([*listed, "nobody@nowhere.example.com"]) + "\n")
    out = run(
        str(path), "--reason", "Cleanup", "--actor", "cli.operator", "--ticket", "T-3", "--json"
    )
    figures = json.loads(out)
    assert figures["status"] == OperationStatus.SUCCEEDED
    assert (figures["removed"], figures["not_on_blacklist"]) == (120, 1)
    assert not SandboxBlacklistedEmail.objects.filter(email__in=listed).exists()
    operation = Operation.objects.get(pk=figures["operation"])
    assert operation.actor == operator
    assert operation.ticket == "T-3"
    assert operation.source_detail["file_name"] == "list.csv"
    assert ProviderCall.objects.filter(operation=operation).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("sandbox")
def test_exit_status_is_not_zero_when_something_was_not_removed(tmp_path, settings):
    make_user("cli.operator", "Operators")
    path = tmp_path / "list.csv"
    path.write_text("email\na@example.com\n")
    settings.SANDBOX_API_KEY = "a-key-the-sandbox-refuses"  # the job meets a 401
    settings.WOODPECKER_BASE_URL = f"{settings.SANDBOX_BASE_URL}/sandbox/woodpecker/rest"
    settings.WOODPECKER_API_KEY = "wrong-key"
    with pytest.raises(CommandError) as caught:
        run(str(path), "--reason", "r", "--actor", "cli.operator")
    assert caught.value.returncode == 1
    assert Job.objects.get().status == OperationStatus.STOPPED
