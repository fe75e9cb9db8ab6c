"""export_audit: one JSON object per operation, oldest first, exact keys, date bounds."""

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from suppression_admin.audit.models import Action, ItemOutcome, Provider, Source
from suppression_admin.audit.services import ItemDraft, operation_start
from tests.audit_factories import record_operation

pytestmark = pytest.mark.django_db

PROJECT = Path(__file__).resolve().parents[2]
OPERATION_KEYS = [
    "id",
    "provider",
    "action",
    "actor",
    "created_at",
    "finished_at",
    "reason",
    "ticket",
    "source",
    "status",
    "items",
    "calls",
]


def export(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("export_audit", "--format", "jsonl", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_export_audit_writes_exact_keys_and_values(operator):
    operation = record_operation(
        operator,
        [ItemDraft("101", "maria-gonzalez"), ItemDraft("102", "li-wei")],
        reason="Asked to hear from us again",
        ticket="SUP-9",
        source=Source.CLI,
        path="/blocked-leads",
        duration_ms=41,
    )
    call = operation.calls.get()
    [line] = export()
    assert list(line) == OPERATION_KEYS
    assert line == {
        "id": operation.pk,
        "provider": "walead",
        "action": "unblock",
        "actor": "olivia.operator",
        "created_at": operation.created_at.astimezone(UTC).isoformat(),
        "finished_at": operation.finished_at.astimezone(UTC).isoformat(),
        "reason": "Asked to hear from us again",
        "ticket": "SUP-9",
        "source": "cli",
        "status": "succeeded",
        "items": [
            {"identifier": "101", "label": "maria-gonzalez", "outcome": "unblocked"},
            {"identifier": "102", "label": "li-wei", "outcome": "unblocked"},
        ],
        "calls": [
            {
                "method": "DELETE",
                "path": "/blocked-leads",
                "status": 200,
                "item_count": 2,
                "started_at": call.started_at.astimezone(UTC).isoformat(),
                "duration_ms": 41,
            }
        ],
    }
    assert line["created_at"].endswith("+00:00")


def test_export_audit_unanswered_call_and_unfinished_operation_give_nulls(operator):
    record_operation(
        operator,
        [ItemDraft("ann@example.com")],
        provider=Provider.WOODPECKER,
        answer_status=None,
        outcome=ItemOutcome.UNKNOWN,
    )
    running, _ = operation_start(
        provider=Provider.WALEAD,
        action=Action.UNBLOCK,
        actor=operator,
        reason="r",
        ticket="",
        source=Source.WEB,
        items=[ItemDraft("7", "x")],
    )
    answered_none, unfinished = export()
    assert answered_none["calls"][0]["status"] is None
    assert answered_none["status"] == "unknown"
    assert answered_none["items"] == [
        {"identifier": "ann@example.com", "label": "", "outcome": "unknown"}
    ]
    assert unfinished["id"] == running.pk
    assert unfinished["finished_at"] is None
    assert unfinished["calls"] == []


def test_export_audit_is_oldest_first(operator):
    newer = record_operation(
        operator, [ItemDraft("1")], created_at=datetime(2025, 5, 2, tzinfo=UTC)
    )
    older = record_operation(
        operator, [ItemDraft("2")], created_at=datetime(2025, 5, 1, tzinfo=UTC)
    )
    assert [line["id"] for line in export()] == [older.pk, newer.pk]


def test_export_audit_since_and_until_are_inclusive_days(operator):
    days = [
        datetime(2025, 4, 30, 23, 59, 59, tzinfo=UTC),
        datetime(2025, 5, 1, 0, 0, tzinfo=UTC),
        datetime(2025, 5, 3, 23, 59, 59, tzinfo=UTC),
        datetime(2025, 5, 4, 0, 0, tzinfo=UTC),
    ]
    made = [
        record_operation(operator, [ItemDraft(str(n))], created_at=day)
        for n, day in enumerate(days)
    ]
    inside = export("--since", "2025-05-01", "--until", "2025-05-03")
    assert [line["id"] for line in inside] == [made[1].pk, made[2].pk]
    assert [line["id"] for line in export("--since", "2025-05-04")] == [made[3].pk]
    assert [line["id"] for line in export("--until", "2025-04-30")] == [made[0].pk]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2025-02-30"], "--since must be a date as YYYY-MM-DD"),
        (["--until", "yesterday"], "--until must be a date as YYYY-MM-DD"),
        (["--since", "20250501"], "--since must be a date as YYYY-MM-DD"),
        (["--since", "2025-05-03", "--until", "2025-05-01"], "is after --until"),
    ],
)
def test_export_audit_bad_dates_are_command_errors(db, args, message):
    with pytest.raises(CommandError, match=message):
        export(*args)


def test_export_audit_accepts_only_jsonl(db):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("export_audit", "--format", "csv", stdout=io.StringIO())


def test_export_audit_bad_date_on_the_command_line_exits_1_without_traceback():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", "export_audit", "--since", "2025-13-01"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "CommandError: --since must be a date as YYYY-MM-DD" in done.stderr
    assert "Traceback" not in done.stderr


def test_export_audit_queries_per_chunk_not_per_operation(operator, django_assert_num_queries):
    for n in range(25):
        record_operation(operator, [ItemDraft(str(n)), ItemDraft(f"{n}b")])
    # The access record, then one query for the operations, one for their items, one for
    # their calls.
    with django_assert_num_queries(4):
        lines = export()
    assert len(lines) == 25
