"""Operations recorded before every unblock ran as a job, and never finished, were cut off
by their process's end (an unblock used to run inside the web request): say so."""

from django.db import migrations
from django.utils import timezone

SUMMARY = (
    "Stopped midway: its process ended without recording a result (before unblocks ran as "
    "background jobs). Items still pending may or may not have been applied by the provider."
)


def mark_interrupted(apps, schema_editor):
    Operation = apps.get_model("audit", "Operation")
    OperationItem = apps.get_model("audit", "OperationItem")
    cut_off = Operation.objects.filter(
        status__in=["pending", "in_progress"], job__isnull=True, finished_at__isnull=True
    )
    for operation in cut_off:
        OperationItem.objects.filter(operation=operation, outcome="pending").update(
            outcome="unknown",
            detail="The operation stopped before this item's outcome was recorded.",
        )
        operation.status = "interrupted"
        operation.summary = SUMMARY
        operation.finished_at = timezone.now()
        operation.save(update_fields=["status", "summary", "finished_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        ("woodpecker", "0004_jobs_move_to_jobs_app"),
    ]

    operations = [migrations.RunPython(mark_interrupted, migrations.RunPython.noop)]
