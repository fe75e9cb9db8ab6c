"""Personal data outside the audit is deleted after the retention period."""

import io
import os
import stat
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from suppression_admin.audit.models import Operation
from suppression_admin.jobs.workers import Heartbeat
from suppression_admin.woodpecker.kept_uploads import kept_dir, upload_keep
from suppression_admin.woodpecker.models import RemovalDraft, UploadReading
from suppression_admin.woodpecker.retention import personal_data_purge
from tests.views.test_removal_views import upload
from tests.woodpecker.factories import make_draft, run, start_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def project_dir(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    return tmp_path


def aged(draft: RemovalDraft, days: float) -> RemovalDraft:
    RemovalDraft.objects.filter(pk=draft.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    return draft


@pytest.mark.usefixtures("fake_woodpecker")
def test_the_purge_deletes_old_drafts_and_empties_those_whose_job_ended(
    operator, fake_woodpecker, clock
):
    fake_woodpecker.answer("DELETE", json_body={"emails": []})
    abandoned = aged(make_draft(operator, ["a@x.com"]), 8)
    recent = aged(make_draft(operator, ["b@x.com"]), 6)
    finished = run(start_job(operator, ["c@x.com"]))
    aged(finished.removal_draft, 8)
    RemovalDraft.objects.filter(pk=finished.removal_draft.pk).update(unused_csv="row,value")
    running = start_job(operator, ["d@x.com"], schedule=False)
    aged(running.removal_draft, 30)

    purged = personal_data_purge()

    assert (purged.drafts_deleted, purged.drafts_emptied) == (1, 1)
    assert not RemovalDraft.objects.filter(pk=abandoned.pk).exists()
    assert RemovalDraft.objects.get(pk=recent.pk).email_list() == ["b@x.com"]
    emptied = RemovalDraft.objects.get(pk=finished.removal_draft.pk)
    assert (emptied.emails, emptied.unused_csv, emptied.invalid_rows) == ("", "", [])
    assert emptied.purged_at is not None
    assert emptied.valid_count == 1  # the facts stay
    # A job still running reads its addresses from its draft: kept whole.
    assert RemovalDraft.objects.get(pk=running.removal_draft.pk).email_list() == ["d@x.com"]
    # The audit is untouched.
    assert Operation.objects.get(pk=finished.pk).items.get().identifier == "c@x.com"
    assert personal_data_purge() == type(purged)(0, 0, 0, 0)


def test_an_old_workbook_reading_is_deleted_with_the_file_it_holds(operator):
    reading = UploadReading.objects.create(created_by=operator, content=b"PK\x03\x04 ...")
    UploadReading.objects.filter(pk=reading.pk).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    fresh = UploadReading.objects.create(created_by=operator, content=b"PK")

    assert personal_data_purge().readings_deleted == 1
    assert list(UploadReading.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_kept_uploads_are_owner_only_and_purged_when_abandoned():
    token = upload_keep([b"email\n", b"a@x.com\n"])
    path = kept_dir() / token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept_dir().stat().st_mode) == 0o700
    fresh = kept_dir() / upload_keep([b"x"])
    week_ago = (timezone.now() - timedelta(days=8)).timestamp()
    os.utime(path, (week_ago, week_ago))
    assert personal_data_purge().uploads_deleted == 1
    assert not path.exists()
    assert fresh.exists()


def test_a_column_choice_keeps_the_upload_owner_only_then_removes_it(operator_client):
    response = upload(operator_client, b"work email,home email\r\na@w.com,a@h.com\r\n")
    [kept] = list(kept_dir().iterdir())
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    token = response.context["form"].initial["token"]
    operator_client.post(reverse("woodpecker:removal_column"), {"token": token, "column": 1})
    assert list(kept_dir().iterdir()) == []


def test_a_purged_report_says_why_it_is_gone(operator_client, operator):
    draft = make_draft(operator, ["a@x.com"])
    RemovalDraft.objects.filter(pk=draft.pk).update(purged_at=timezone.now())
    response = operator_client.get(reverse("woodpecker:removal_unused", args=[draft.pk]))
    assert response.status_code == 410
    assert "retention period" in response.content.decode()


def test_the_command_reports_and_takes_days(operator):
    aged(make_draft(operator, ["a@x.com"]), 2)
    out = io.StringIO()
    call_command("purge_personal_data", "--days", "1", stdout=out)
    assert "Drafts deleted: 1;" in out.getvalue()
    with pytest.raises(CommandError, match="0 or more"):
        call_command("purge_personal_data", "--days", "-1")


def test_a_worker_runs_the_daily_commands_first_thing(monkeypatch):
    ran = []
    monkeypatch.setattr(
        "suppression_admin.jobs.workers.call_command", lambda name, **kw: ran.append(name)
    )
    heartbeat = Heartbeat("hb-chores", rescue=False, chores=True)
    heartbeat._stop.set()  # one round, then the wait for the next day ends at once
    heartbeat._daily()
    assert ran == ["purge_personal_data"]
