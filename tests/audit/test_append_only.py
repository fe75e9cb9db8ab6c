"""The database itself refuses to delete or rewrite the audit (raw SQL, both databases)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from suppression_admin.audit.models import (
    EventKind,
    ItemOutcome,
    Operation,
    OperationItem,
    Provider,
    ProviderCall,
)
from suppression_admin.audit.services import ItemDraft, operation_event, operation_finish
from tests.audit_factories import record_operation

pytestmark = pytest.mark.django_db


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused(statement: str, params=()) -> bool:
    try:
        with transaction.atomic():
            sql(statement, params)
    except DatabaseError:
        return True
    return False


def snapshot(operation: Operation) -> tuple:
    operation = Operation.objects.get(pk=operation.pk)
    return (
        (operation.status, operation.summary, operation.reason, operation.finished_at),
        list(operation.items.values_list("identifier", "outcome", "detail")),
        list(operation.calls.values_list("status_code", "answer_excerpt", "error")),
        list(operation.events.values_list("kind", "detail")),
    )


@pytest.fixture
def finished(operator):
    operation = record_operation(
        operator,
        [ItemDraft("a@x.com"), ItemDraft("b@x.com")],
        provider=Provider.WOODPECKER,
        outcome=ItemOutcome.REMOVED,
    )
    operation_event(operation, EventKind.FINISHED, detail="done")
    return operation


@pytest.mark.parametrize(
    "table",
    ["audit_operation", "audit_operationitem", "audit_providercall", "audit_operationevent"],
)
def test_no_audit_row_can_be_deleted(finished, table):
    before = snapshot(finished)
    column = "id" if table == "audit_operation" else "operation_id"
    assert refused(f"DELETE FROM {table} WHERE {column} = %s", [finished.pk])  # noqa: S608
    assert snapshot(finished) == before


def test_a_finished_operation_cannot_change(finished):
    before = snapshot(finished)
    assert refused(
        "UPDATE audit_operation SET summary = 'nothing happened' WHERE id = %s", [finished.pk]
    )
    assert refused("UPDATE audit_operation SET finished_at = NULL WHERE id = %s", [finished.pk])
    assert refused(
        "UPDATE audit_operationitem SET detail = 'edited' WHERE operation_id = %s", [finished.pk]
    )
    assert refused(
        "UPDATE audit_providercall SET answer_excerpt = '{}' WHERE operation_id = %s",
        [finished.pk],
    )
    assert refused(
        "UPDATE audit_operationevent SET detail = 'x' WHERE operation_id = %s", [finished.pk]
    )
    assert snapshot(finished) == before


def test_while_it_runs_only_the_forward_moves_are_allowed(operator):
    running = record_operation(
        operator,
        [ItemDraft("a@x.com"), ItemDraft("b@x.com")],
        provider=Provider.WOODPECKER,
        finish=False,
    )
    item = running.items.order_by("position").first()
    # What was requested never changes.
    assert refused("UPDATE audit_operation SET reason = 'other' WHERE id = %s", [running.pk])
    assert refused("UPDATE audit_operationitem SET identifier = 'z@x.com' WHERE id = %s", [item.pk])
    # An outcome is set once, from pending; never moved back.
    assert not refused(
        "UPDATE audit_operationitem SET outcome = 'removed', detail = 'ok' WHERE id = %s",
        [item.pk],
    )
    assert refused("UPDATE audit_operationitem SET outcome = 'pending' WHERE id = %s", [item.pk])
    assert refused("UPDATE audit_operationitem SET outcome = 'failed' WHERE id = %s", [item.pk])
    assert OperationItem.objects.get(pk=item.pk).outcome == ItemOutcome.REMOVED
    # A call's answer is set once.
    call = ProviderCall.objects.create(
        operation=running, sequence=1, purpose="p", method="DELETE", path="/"
    )
    assert not refused(
        "UPDATE audit_providercall SET status_code = 200, finished_at = started_at WHERE id = %s",
        [call.pk],
    )
    assert refused("UPDATE audit_providercall SET status_code = 500 WHERE id = %s", [call.pk])
    assert refused("UPDATE audit_providercall SET path = '/other' WHERE id = %s", [call.pk])
    assert ProviderCall.objects.get(pk=call.pk).status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_is_refused(finished):
    before = snapshot(finished)
    tables = ("audit_operationevent", "audit_providercall", "audit_operationitem")
    for table in (*tables, "audit_auditseal"):
        assert refused(f"TRUNCATE {table}")
    assert snapshot(finished) == before


def test_grants_for_the_application_role_are_printed():
    out = io.StringIO()
    call_command("audit_db_grants", "suppression_app", stdout=out)
    text = out.getvalue()
    assert "REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_operation" in text
    assert (
        "GRANT UPDATE (outcome, detail, call_id) ON audit_operationitem TO suppression_app;" in text
    )
    with pytest.raises(CommandError, match="not a plain PostgreSQL role name"):
        call_command("audit_db_grants", "x; DROP TABLE audit_operation")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="roles are PostgreSQL's")
def test_the_application_role_cannot_delete_or_rewrite_even_with_the_triggers_gone(
    finished, operator
):
    from suppression_admin.audit.management.commands.audit_db_grants import grants_sql

    sql("CREATE ROLE suppression_app_test NOLOGIN")
    for statement in grants_sql("suppression_app_test"):
        sql(statement)
    sql("DROP TRIGGER audit_operationitem_no_delete ON audit_operationitem")
    sql("DROP TRIGGER audit_operationitem_update ON audit_operationitem")
    running = record_operation(operator, [ItemDraft("c@x.com")], finish=False)
    sql("SET ROLE suppression_app_test")
    try:
        assert refused("DELETE FROM audit_operationitem WHERE operation_id = %s", [finished.pk])
        assert refused(
            "UPDATE audit_operationitem SET identifier = 'z' WHERE operation_id = %s",
            [running.pk],
        )
        assert not refused(
            "UPDATE audit_operationitem SET outcome = 'unblocked' WHERE operation_id = %s",
            [running.pk],
        )
        # Finishing (which seals into the hash chain) needs nothing more.
        operation_finish(running)
        assert refused("DELETE FROM audit_auditseal WHERE operation_id = %s", [running.pk])
    finally:
        sql("RESET ROLE")
