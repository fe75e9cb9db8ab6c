"""Fill ProviderCall.batch for removal jobs that were running before it existed.

A resumed job tells by it whether a chunk left in flight was sent; without it, a chunk
whose answer was lost would look never sent and go out again instead of being settled by
look-up. Those jobs named the chunk only in the call's purpose ("remove chunk 3").
"""

import re

from django.db import migrations

CHUNK_PURPOSE = re.compile(r"^remove chunk (\d+)")


def fill_batch(apps, schema_editor):
    ProviderCall = apps.get_model("audit", "ProviderCall")
    RemovalJob = apps.get_model("woodpecker", "RemovalJob")
    calls = ProviderCall.objects.filter(
        operation__in=RemovalJob.objects.values("operation"), batch__isnull=True
    )
    for call in calls.iterator():
        if match := CHUNK_PURPOSE.match(call.purpose):
            call.batch = int(match[1]) - 1
            call.save(update_fields=["batch"])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_call_batch_lean_item_indexes"),
        ("woodpecker", "0001_initial"),
    ]

    operations = [migrations.RunPython(fill_batch, migrations.RunPython.noop)]
