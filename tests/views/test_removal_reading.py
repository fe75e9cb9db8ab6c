"""Large workbooks are read by a worker, off the web request, and the page follows it."""

import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from suppression_admin.jobs.models import Worker
from suppression_admin.woodpecker.ingest import ingest_upload
from suppression_admin.woodpecker.ingest.result import (
    CHECKING,
    FINDING_SHEET,
    OPENING,
    READING_ROWS,
)
from suppression_admin.woodpecker.models import ReadingStatus, RemovalDraft, UploadReading
from suppression_admin.woodpecker.reading import (
    READING_STALE_SECONDS,
    reading_run,
    readings_rescue,
)
from tests.conftest import make_user
from tests.woodpecker.ingest_support import workbook

pytestmark = pytest.mark.usefixtures("live_providers")


@pytest.fixture(autouse=True)
def every_workbook_in_the_background(settings):
    settings.WOODPECKER_BACKGROUND_READ_MIN_BYTES = 1


CONTACTS = workbook({"Contacts": [["Email"], ["ann@example.com"], ["bob@example.com"]]})


def upload(client, content: bytes, name: str = "contacts.xlsx"):
    return client.post(
        reverse("woodpecker:removal_new"), {"file": SimpleUploadedFile(name, content)}
    )


def page(client, reading: UploadReading, **kwargs):
    return client.get(reverse("woodpecker:removal_reading", args=[reading.pk]), **kwargs)


def test_a_large_workbook_is_read_by_a_worker_then_previewed(
    operator_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    assert response.url == reverse("woodpecker:removal_reading", args=[reading.pk])
    assert RemovalDraft.objects.count() == 0  # nothing read inside the request
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"] == [str(reading.pk)]
    waiting = page(operator_client, reading).content.decode()
    assert "Waiting for a worker" in waiting
    assert 'hx-trigger="every 1s"' in waiting
    assert 'data-testid="situation">No worker has run yet' in waiting

    reading_run(str(reading.pk))

    reading.refresh_from_db()
    assert reading.status == ReadingStatus.DONE
    assert bytes(reading.content) == b""  # the file is not kept once read
    draft = reading.draft
    assert draft.email_list() == ["ann@example.com", "bob@example.com"]
    assert draft.filename == "contacts.xlsx"
    assert len(draft.sha256) == 64
    assert page(operator_client, reading).url == reverse(
        "woodpecker:removal_preview", args=[draft.pk]
    )
    polled = page(operator_client, reading, headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == reverse("woodpecker:removal_preview", args=[draft.pk])


def test_the_page_shows_what_the_worker_is_doing(operator_client):
    upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    UploadReading.objects.filter(pk=reading.pk).update(
        status=ReadingStatus.READING, phase=READING_ROWS, rows_read=340_000
    )
    html = page(
        operator_client, reading, headers={"HX-Request": "true", "HX-Target": "reading"}
    ).content.decode()
    assert html.lstrip().startswith('<div id="reading"')
    assert "Reading rows: <strong>340,000</strong> rows so far" in html


def test_ingest_reports_each_phase_and_the_rows_as_it_reads():
    rows = [["Email"], *([f"p{i}@example.com"] for i in range(45_000))]
    two_sheets = workbook({"Notes": [["hello"]], "Emails": rows})
    heard: list[tuple[str, int]] = []

    ingest_upload(io.BytesIO(two_sheets), filename="x.xlsx", progress=lambda *a: heard.append(a))

    assert heard == [
        (CHECKING, 0),
        (OPENING, 0),
        (FINDING_SHEET, 0),
        (READING_ROWS, 0),
        (READING_ROWS, 20_000),
        (READING_ROWS, 40_000),
    ]


def test_a_refused_workbook_says_why_and_keeps_nothing(operator_client):
    upload(operator_client, CONTACTS[:-300])  # cut short: damaged
    reading = UploadReading.objects.get()

    reading_run(str(reading.pk))

    reading.refresh_from_db()
    assert reading.status == ReadingStatus.REFUSED
    assert bytes(reading.content) == b""
    html = page(operator_client, reading).content.decode()
    assert "The Excel file could not be read; it may be damaged." in html
    assert 'hx-trigger="every 1s"' not in html
    assert RemovalDraft.objects.count() == 0


def test_a_workbook_with_two_email_sheets_asks_and_reads_the_answer(
    operator_client, django_capture_on_commit_callbacks
):
    data = workbook({"2024": [["old@example.com"]], "2025": [["new@example.com"]]})
    upload(operator_client, data)
    reading = UploadReading.objects.get()
    reading_run(str(reading.pk))

    html = page(operator_client, reading).content.decode()
    assert "Several sheets hold email addresses (“2024”, “2025”)" in html
    assert 'value="1:0"' in html
    url = reverse("woodpecker:removal_reading", args=[reading.pk])
    with django_capture_on_commit_callbacks(execute=True):
        answered = operator_client.post(url, {"token": reading.pk, "column": "1:0"})
    assert answered.url == url
    assert DBTaskResult.objects.count() == 1  # read again
    reading_run(str(reading.pk))

    reading.refresh_from_db()
    assert reading.draft.email_list() == ["new@example.com"]
    assert reading.draft.column_label == 'column 1 (no header) on sheet "2025"'


def test_someone_elses_reading_is_forbidden(operator_client):
    upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    other = make_user("other.operator", "Operators")
    operator_client.force_login(other)
    assert page(operator_client, reading).status_code == 403


def test_a_run_overtaken_by_a_later_one_saves_nothing(operator_client, monkeypatch):
    upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    from suppression_admin.woodpecker import reading as module

    real_ingest = module.ingest_upload

    def slow_then_overtaken(*args, **kwargs):
        result = real_ingest(*args, **kwargs)
        # Meanwhile this worker was thought dead, and another run took the reading over.
        UploadReading.objects.filter(pk=reading.pk).update(attempt=99)
        return result

    monkeypatch.setattr(module, "ingest_upload", slow_then_overtaken)
    reading_run(str(reading.pk))

    reading.refresh_from_db()
    assert reading.status == ReadingStatus.READING
    assert RemovalDraft.objects.count() == 0


def test_a_reading_whose_worker_fell_silent_is_queued_again_once(
    operator_client, django_capture_on_commit_callbacks
):
    upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    long_ago = timezone.now() - timezone.timedelta(seconds=READING_STALE_SECONDS + 1)
    UploadReading.objects.filter(pk=reading.pk).update(
        status=ReadingStatus.READING, touched_at=long_ago
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert readings_rescue() == [str(reading.pk)]
        assert readings_rescue() == []  # touched: not again

    assert DBTaskResult.objects.count() == 1
    reading_run(str(reading.pk))  # the next run starts over and finishes
    reading.refresh_from_db()
    assert (reading.status, reading.attempt) == (ReadingStatus.DONE, 1)


def test_small_workbooks_are_still_read_at_once(operator_client, settings):
    settings.WOODPECKER_BACKGROUND_READ_MIN_BYTES = 1024 * 1024
    response = upload(operator_client, CONTACTS)
    draft = RemovalDraft.objects.get()
    assert response.url == reverse("woodpecker:removal_preview", args=[draft.pk])
    assert UploadReading.objects.count() == 0


def test_a_duplicate_task_finds_nothing_to_claim(operator_client, monkeypatch):
    upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    from suppression_admin.woodpecker import reading as module

    runs = []
    real_read = module._read

    def read_and_meanwhile_a_duplicate_runs(*args):
        runs.append("first")
        reading_run(str(reading.pk))  # the same task, queued twice: nothing to claim
        real_read(*args)

    monkeypatch.setattr(module, "_read", read_and_meanwhile_a_duplicate_runs)
    reading_run(str(reading.pk))

    assert runs == ["first"]
    reading.refresh_from_db()
    assert (reading.status, reading.attempt) == (ReadingStatus.DONE, 1)
    assert RemovalDraft.objects.count() == 1


def test_a_second_answer_or_one_not_offered_changes_nothing(
    operator_client, django_capture_on_commit_callbacks
):
    data = workbook({"2024": [["old@example.com"]], "2025": [["new@example.com"]]})
    upload(operator_client, data)
    reading = UploadReading.objects.get()
    reading_run(str(reading.pk))
    url = reverse("woodpecker:removal_reading", args=[reading.pk])

    forged = operator_client.post(url, {"token": reading.pk, "column": "1:7"})
    assert forged.status_code == 400
    assert "Choose one of the columns offered." in forged.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(url, {"token": reading.pk, "column": "1:0"})
        operator_client.post(url, {"token": reading.pk, "column": "0:0"})  # a second click
    reading.refresh_from_db()
    assert (reading.status, reading.sheet, reading.column) == (ReadingStatus.QUEUED, 1, 0)
    assert DBTaskResult.objects.count() == 1


def test_a_workbook_that_keeps_killing_its_worker_is_refused_after_three_runs(
    operator_client, django_capture_on_commit_callbacks
):
    upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    # Three runs claimed it and died (each left it "reading", silent).
    long_ago = timezone.now() - timezone.timedelta(seconds=READING_STALE_SECONDS + 1)
    UploadReading.objects.filter(pk=reading.pk).update(
        status=ReadingStatus.READING, attempt=3, touched_at=long_ago
    )
    with django_capture_on_commit_callbacks(execute=True):
        readings_rescue()

    reading_run(str(reading.pk))

    reading.refresh_from_db()
    assert reading.status == ReadingStatus.REFUSED
    assert reading.refusal.startswith("Reading this workbook was started 3 times")
    assert bytes(reading.content) == b""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_running_reading_is_kept_alive_while_openpyxl_is_silent(operator_client, monkeypatch):
    """(Committed rows: the keeping-alive thread has a connection of its own.)"""
    upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    from suppression_admin.woodpecker import reading as module

    monkeypatch.setattr(module, "ALIVE_SECONDS", 0.05)
    touched = []
    real_ingest = module.ingest_upload

    def silent_for_a_while(*args, **kwargs):
        before = UploadReading.objects.get(pk=reading.pk).touched_at
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # no progress call meanwhile
            time.sleep(0.05)
            if UploadReading.objects.get(pk=reading.pk).touched_at > before:
                touched.append(True)
                break
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(module, "ingest_upload", silent_for_a_while)
    reading_run(str(reading.pk))

    assert touched == [True]


def test_the_page_says_when_the_run_reading_the_file_has_fallen_silent(operator_client):
    upload(operator_client, CONTACTS)
    reading = UploadReading.objects.get()
    Worker.objects.create(id="w-1", hostname="h", pid=1, seen_at=timezone.now())
    quiet = timezone.now() - timezone.timedelta(seconds=50)
    UploadReading.objects.filter(pk=reading.pk).update(
        status=ReadingStatus.READING, phase=OPENING, touched_at=quiet
    )
    html = page(operator_client, reading).content.decode()
    assert "The worker reading this file has not been heard from for 50 s" in html
    UploadReading.objects.filter(pk=reading.pk).update(touched_at=timezone.now())
    assert "not been heard from" not in page(operator_client, reading).content.decode()
