"""Items get their search key, operations their ticket key and stored counts (issue 8).

The append-only guards are lifted while the columns are added and the rows written so far
get their values, then put back, with an item's search key among what can never change.
"""

import importlib
from collections import defaultdict

from django.conf import settings
from django.db import migrations, models

append_only = importlib.import_module("suppression_admin.audit.migrations.0005_append_only")
seals = importlib.import_module("suppression_admin.audit.migrations.0006_audit_seals")

ITEM_FIXED = (*append_only.ITEM_FIXED, "search_key")
OPERATION_FIXED = (*append_only.OPERATION_FIXED, "ticket_key")
OPERATION_MESSAGE = (
    "The audit log is append-only: a finished operation, or what was requested, cannot change."
)
ITEM_MESSAGE = (
    "The audit log is append-only: an item''s outcome is set once, while its operation runs."
)
ITEM_CONDITION = f"{append_only.OPERATION_FINISHED} IS NOT NULL OR OLD.outcome <> 'pending' OR "
DONE = ("unblocked", "removed", "not_listed", "gone")
BATCH = 2000


GUARDS = (
    # (table, condition besides a fixed column changing, fixed columns, message)
    ("audit_operationitem", ITEM_CONDITION, ITEM_FIXED, ITEM_MESSAGE),
    ("audit_operation", "OLD.finished_at IS NOT NULL OR ", OPERATION_FIXED, OPERATION_MESSAGE),
)


CALL_AFTER_FINISH = (
    "(SELECT finished_at FROM audit_operation WHERE id = NEW.operation_id) IS NOT NULL"
)
CALL_MESSAGE = "The audit log is append-only: a finished operation makes no more calls."


def install(schema_editor) -> None:
    """The update guards of 0005, now also keeping the search keys as written; and no call
    recorded for a finished operation (a worker that lost its job must not send one)."""
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(
            append_only._pg_guard("audit_providercall_insert", CALL_AFTER_FINISH, CALL_MESSAGE),
            params=None,
        )
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS audit_providercall_insert ON audit_providercall", params=None
        )
        schema_editor.execute(
            "CREATE TRIGGER audit_providercall_insert BEFORE INSERT ON audit_providercall "
            "FOR EACH ROW EXECUTE FUNCTION audit_providercall_insert()",
            params=None,
        )
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_providercall_insert", params=None)
        schema_editor.execute(
            "CREATE TRIGGER audit_providercall_insert BEFORE INSERT ON audit_providercall "
            f"WHEN {CALL_AFTER_FINISH} BEGIN SELECT RAISE(ABORT, '{CALL_MESSAGE}'); END",
            params=None,
        )
    for table, condition, fixed, message in GUARDS:
        if postgres:
            changed = (
                f"ROW({append_only._row('NEW', fixed)}) IS DISTINCT FROM "
                f"ROW({append_only._row('OLD', fixed)})"
            )
            guard = append_only._pg_guard(f"{table}_update", condition + changed, message)
            schema_editor.execute(guard, params=None)
            continue
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_update", params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {table}_update BEFORE UPDATE ON {table} "
            f"WHEN {condition}{append_only._changed(fixed)} BEGIN "
            f"SELECT RAISE(ABORT, '{message}'); END",
            params=None,
        )


def uninstall(schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":  # (0005's uninstall drops the rest)
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS audit_providercall_insert ON audit_providercall", params=None
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_providercall_insert()", params=None)
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS audit_providercall_insert", params=None)
    for table, *_ in GUARDS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_update", params=None)


def lift_guards(apps, schema_editor) -> None:
    seals.uninstall(schema_editor)
    append_only.uninstall(schema_editor)


def restore_guards(apps, schema_editor) -> None:
    append_only.install(schema_editor)
    seals.install(schema_editor)


def guard_again(apps, schema_editor) -> None:
    restore_guards(apps, schema_editor)
    install(schema_editor)


def unguard_again(apps, schema_editor) -> None:
    uninstall(schema_editor)
    lift_guards(apps, schema_editor)


def fill_in(apps, schema_editor) -> None:
    """Search keys and counts for the rows written before this migration."""
    from suppression_admin.audit.identifiers import item_search_key, ticket_key

    item_model = apps.get_model("audit", "OperationItem")
    operation_model = apps.get_model("audit", "Operation")
    last = 0
    while batch := list(
        item_model.objects.filter(pk__gt=last).order_by("pk").only("identifier", "label")[:BATCH]
    ):
        for item in batch:
            item.search_key = item_search_key(item.identifier, item.label)
        item_model.objects.bulk_update(batch, ["search_key"])
        last = batch[-1].pk
    outcomes = defaultdict(dict)
    grouped = (
        item_model.objects.order_by()
        .values_list("operation_id", "outcome")
        .annotate(n=models.Count("pk"))
    )
    for operation_id, outcome, n in grouped:
        outcomes[operation_id][outcome] = n
    calls = dict(
        apps.get_model("audit", "ProviderCall")
        .objects.order_by()
        .values_list("operation_id")
        .annotate(n=models.Count("pk"))
    )
    operations = operation_model.objects.only("finished_at", "ticket")
    for operation in operations.iterator(chunk_size=BATCH):
        counts = outcomes.get(operation.pk, {})
        operation_model.objects.filter(pk=operation.pk).update(
            ticket_key=ticket_key(operation.ticket),
            item_total=sum(counts.values()),
            item_done=sum(n for outcome, n in counts.items() if outcome in DONE),
            call_total=calls.get(operation.pk, 0),
            outcome_counts=counts if operation.finished_at else {},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_audit_seals"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(lift_guards, restore_guards),
        migrations.AddField(
            model_name="operation",
            name="call_total",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="operation",
            name="item_done",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="operation",
            name="item_total",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="operation",
            name="outcome_counts",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="operationitem",
            name="search_key",
            field=models.CharField(blank=True, default="", max_length=320),
        ),
        migrations.AddField(
            model_name="operation",
            name="ticket_key",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.AddIndex(
            model_name="operation",
            index=models.Index(
                fields=["ticket_key"],
                name="audit_operation_ticket",
                opclasses=["varchar_pattern_ops"],
            ),
        ),
        migrations.AddIndex(
            model_name="operationitem",
            index=models.Index(
                fields=["search_key", "operation"],
                name="audit_item_search_key",
                opclasses=["varchar_pattern_ops", "int8_ops"],
            ),
        ),
        migrations.AddIndex(
            model_name="operationitem",
            index=models.Index(
                condition=models.Q(("label", ""), _negated=True),
                fields=["identifier"],
                name="audit_item_lead_id",
            ),
        ),
        migrations.RunPython(fill_in, migrations.RunPython.noop),
        migrations.RunPython(guard_again, unguard_again),
    ]
