"""Every view of personal data in bulk is itself recorded, and shown to auditors."""

import io

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from suppression_admin.audit.models import AccessKind, AccessRecord, Provider
from suppression_admin.audit.services import ItemDraft, access_record
from tests.audit_factories import record_operation

pytestmark = pytest.mark.django_db


def consume(response) -> bytes:
    return b"".join(response.streaming_content)


def test_audit_exports_are_recorded_with_who_and_which_filter(auditor_client, operator):
    record_operation(operator, [ItemDraft("a@example.com")], provider=Provider.WOODPECKER)
    response = auditor_client.get(
        reverse("audit:export_csv"),
        {"identifier": "a@example.com", "date_from": "2025-01-01", "all_items": "1"},
        REMOTE_ADDR="203.0.113.5",
    )
    record = AccessRecord.objects.get()
    # Recorded before a byte of the export went out.
    assert record.kind == AccessKind.AUDIT_EXPORT
    consume(response)
    assert record.actor_username == "aaron.auditor"
    assert record.client_ip == "203.0.113.5"
    assert record.detail == {
        "format": "csv",
        "filters": {"date_from": "2025-01-01", "identifier": "a@example.com", "match": "exact"},
        "every_item_of_matching_operations": True,
    }
    consume(auditor_client.get(reverse("audit:export_jsonl")))
    assert AccessRecord.objects.latest("id").detail["format"] == "jsonl"


def test_a_refused_export_records_nothing(auditor_client):
    response = auditor_client.get(reverse("audit:export_csv"), {"date_from": "nope"})
    assert response.status_code == 400
    assert not AccessRecord.objects.exists()


def test_the_export_command_is_recorded(db):
    call_command("export_audit", "--ticket", "SUP-1", stdout=io.StringIO())
    record = AccessRecord.objects.get()
    assert record.kind == AccessKind.AUDIT_EXPORT_COMMAND
    assert record.actor_username.startswith("command line, OS user ")
    assert record.detail["filters"]["ticket"] == "SUP-1"


def test_the_access_log_page_lists_records_for_auditors_only(auditor_client, operator):
    access_record(AccessKind.JOB_RESULT, {"job": 7}, actor=operator, client_ip="192.0.2.1")
    access_record(AccessKind.PERSON, {"identifier": "ann@example.com"}, actor=operator)
    url = reverse("audit:access_log")
    html = auditor_client.get(url).content.decode()
    assert html.count('data-testid="access-row"') == 2
    assert "Job result download" in html
    assert "192.0.2.1" in html
    assert "ann@example.com" in html
    only = auditor_client.get(url, {"kind": AccessKind.JOB_RESULT}).content.decode()
    assert only.count('data-testid="access-row"') == 1
    as_operator = Client()
    as_operator.force_login(operator)
    assert as_operator.get(url).status_code == 403
    audit_page = auditor_client.get(reverse("audit:operations")).content.decode()
    assert 'data-testid="access-log-link"' in audit_page


def test_access_records_are_append_only(operator):
    record = access_record(AccessKind.JOB_RESULT, {"job": 1}, actor=operator)
    for sql in (
        "UPDATE audit_accessrecord SET actor_username = 'x' WHERE id = %s",
        "DELETE FROM audit_accessrecord WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [record.pk])
    assert AccessRecord.objects.get().actor_username == "olivia.operator"


@pytest.mark.usefixtures("live_providers")
def test_job_result_and_unused_row_downloads_are_recorded(operator_client, operator):
    from suppression_admin.woodpecker.models import RemovalDraft
    from tests.views.test_removal_views import CSV, upload
    from tests.woodpecker.factories import start_job

    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    operator_client.get(reverse("woodpecker:removal_unused", args=[draft.pk]))
    unused = AccessRecord.objects.get(kind=AccessKind.UNUSED_ROWS)
    assert unused.detail == {"draft": str(draft.pk), "file_name": "list.csv"}
    assert unused.actor_username == "olivia.operator"

    job = start_job(operator, ["a@x.com"])
    consume(operator_client.get(reverse("jobs:result", args=[job.pk])))
    result = AccessRecord.objects.get(kind=AccessKind.JOB_RESULT)
    assert result.detail == {"job": job.pk, "provider": "woodpecker"}
