"""Items get their search key and operations their stored counts (issue 8, fast at scale).

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
ITEM_MESSAGE = (
    "The audit log is append-only: an item''s outcome is set once, while its operation runs."
)
ITEM_CONDITION = f"{append_only.OPERATION_FINISHED} IS NOT NULL OR OLD.outcome <> 'pending' OR "
DONE = ("unblocked", "removed", "not_listed", "gone")
BATCH = 2000


def install(schema_editor) -> None:
    """The item guard of 0005, now also keeping the search key as written."""
    if schema_editor.connection.vendor == "postgresql":
        changed = (
            f"ROW({append_only._row('NEW', ITEM_FIXED)}) IS DISTINCT FROM "
            f"ROW({append_only._row('OLD', ITEM_FIXED)})"
        )
        schema_editor.execute(
            append_only._pg_guard(
                "audit_operationitem_update", ITEM_CONDITION + changed, ITEM_MESSAGE
            ),
            params=None,
        )
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS audit_operationitem_update", params=None)
    schema_editor.execute(
        "CREATE TRIGGER audit_operationitem_update BEFORE UPDATE ON audit_operationitem "
        f"WHEN {ITEM_CONDITION}{append_only._changed(ITEM_FIXED)} BEGIN "
        f"SELECT RAISE(ABORT, '{ITEM_MESSAGE}'); END",
        params=None,
    )


def uninstall(schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":  # (0005's uninstall drops the function)
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_operationitem_update", params=None)


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
    from suppression_admin.audit.identifiers import item_search_key

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
    for operation in operation_model.objects.only("finished_at").iterator(chunk_size=BATCH):
        counts = outcomes.get(operation.pk, {})
        operation_model.objects.filter(pk=operation.pk).update(
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
        migrations.AddIndex(
            model_name="operation",
            index=models.Index(
                fields=["ticket"], name="audit_operation_ticket", opclasses=["varchar_pattern_ops"]
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
