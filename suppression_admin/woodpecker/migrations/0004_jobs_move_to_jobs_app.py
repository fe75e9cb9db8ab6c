"""Removal jobs become jobs.Job (one engine for both providers), numbered as their operation.

Existing jobs are copied with their chunks and progress; an unfinished one goes on where it
stopped (a chunk left in flight is looked up, as for any job whose worker died).
"""

import django.db.models.deletion
from django.db import migrations, models

OLD_TO_OPERATION_STATUS = {
    "succeeded": "succeeded",
    "partial": "partial",
    "failed": "stopped",
    "cancelled": "cancelled",
}


def copy_jobs(apps, schema_editor):
    RemovalJob = apps.get_model("woodpecker", "RemovalJob")
    RemovalChunk = apps.get_model("woodpecker", "RemovalChunk")
    RemovalDraft = apps.get_model("woodpecker", "RemovalDraft")
    Job = apps.get_model("jobs", "Job")
    Chunk = apps.get_model("jobs", "Chunk")
    Operation = apps.get_model("audit", "Operation")
    for old in RemovalJob.objects.all().iterator():
        job = Job.objects.create(
            operation_id=old.operation_id,
            provider="woodpecker",
            created_by_id=old.created_by_id,
            key_fingerprint=old.key_fingerprint,
            total=old.total,
            prepared=old.prepared,
            items_written=old.items_written,
            cancel_requested=old.cancel_requested,
            resume_at=old.resume_at,
            stop_reason=old.stop_reason,
            done=old.removed,
            not_listed=old.not_listed,
            failed=old.failed,
            unknown=old.unknown,
            not_sent=old.not_sent,
            progressed_at=old.updated_at,
        )
        RemovalDraft.objects.filter(pk=old.draft_id).update(job=job)
        Chunk.objects.bulk_create(
            [
                Chunk(
                    job=job,
                    index=chunk.index,
                    first_position=chunk.first_position,
                    last_position=chunk.last_position,
                    status=chunk.status,
                    attempts=chunk.attempts,
                    done_at=chunk.done_at,
                )
                for chunk in RemovalChunk.objects.filter(job=old).order_by("index")
            ],
            batch_size=1000,
        )
        if old.status in OLD_TO_OPERATION_STATUS:
            Operation.objects.filter(pk=old.operation_id).update(
                status=OLD_TO_OPERATION_STATUS[old.status]
            )


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        ("woodpecker", "0003_job_resume_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="removaldraft",
            name="job",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="removal_draft",
                to="jobs.job",
            ),
        ),
        migrations.AddField(
            model_name="removaldraft",
            name="retry_of",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="retry_drafts",
                to="jobs.job",
            ),
        ),
        migrations.AlterField(
            model_name="removaldraft",
            name="source",
            field=models.CharField(
                choices=[
                    ("file", "Uploaded file"),
                    ("paste", "Pasted list"),
                    ("selection", "Selected on the blacklist page"),
                    ("retry", "Not sent by an earlier job"),
                ],
                max_length=10,
            ),
        ),
        migrations.RunPython(copy_jobs, migrations.RunPython.noop),
        migrations.DeleteModel(name="RemovalChunk"),
        migrations.DeleteModel(name="RemovalJob"),
    ]
