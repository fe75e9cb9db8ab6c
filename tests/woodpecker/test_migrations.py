"""Data migrations, run on rows written through the models as they were at the time."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [
    ("woodpecker", "0001_initial"),
    ("audit", "0002_call_batch_lean_item_indexes"),
    ("jobs", None),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def latest():
    executor = MigrationExecutor(connection)
    return list(executor.loader.graph.leaf_nodes())


def test_removal_jobs_become_jobs_and_cut_off_unblocks_say_so(django_user_model):
    old = migrate(BEFORE)
    user = old.get_model("auth", "User").objects.create(username="olga")
    Operation = old.get_model("audit", "Operation")
    ProviderCall = old.get_model("audit", "ProviderCall")
    RemovalDraft = old.get_model("woodpecker", "RemovalDraft")
    RemovalJob = old.get_model("woodpecker", "RemovalJob")
    RemovalChunk = old.get_model("woodpecker", "RemovalChunk")

    def operation(provider, status):
        return Operation.objects.create(
            provider=provider,
            action="remove" if provider == "woodpecker" else "unblock",
            actor=user,
            actor_username="olga",
            reason="r",
            source="file",
            status=status,
        )

    running_op = operation("woodpecker", "in_progress")
    draft = RemovalDraft.objects.create(
        created_by=user, source="paste", valid_count=1000, emails="a@x.com"
    )
    running = RemovalJob.objects.create(
        draft=draft,
        operation=running_op,
        created_by=user,
        key_fingerprint="f" * 16,
        total=1000,
        prepared=True,
        items_written=1000,
        status="running",
        removed=500,
    )
    RemovalChunk.objects.create(
        job=running, index=0, first_position=0, last_position=499, status="done", attempts=1
    )
    RemovalChunk.objects.create(
        job=running, index=1, first_position=500, last_position=999, status="in_flight", attempts=1
    )
    for sequence, purpose in enumerate(["remove chunk 1", "remove chunk 2"], start=1):
        ProviderCall.objects.create(
            operation=running_op, sequence=sequence, purpose=purpose, method="DELETE", path="/"
        )
    stopped_op = operation("woodpecker", "partial")
    RemovalJob.objects.create(
        draft=RemovalDraft.objects.create(created_by=user, source="paste", valid_count=1),
        operation=stopped_op,
        created_by=user,
        key_fingerprint="f" * 16,
        total=1,
        status="failed",
        stop_reason="Invalid api key",
        finished_at=timezone.now(),
    )
    cut_off = operation("walead", "in_progress")
    old.get_model("audit", "OperationItem").objects.create(
        operation=cut_off, position=0, identifier="id-1", outcome="pending"
    )
    old.get_model("audit", "OperationItem").objects.create(
        operation=cut_off, position=1, identifier="id-2", label="Maria-G", outcome="unblocked"
    )

    new = migrate(latest())

    Job = new.get_model("jobs", "Job")
    job = Job.objects.get(pk=running_op.pk)  # one number: the operation's
    assert (job.provider, job.total, job.done, job.prepared) == ("woodpecker", 1000, 500, True)
    assert new.get_model("woodpecker", "RemovalDraft").objects.get(pk=draft.pk).job_id == job.pk
    chunks = new.get_model("jobs", "Chunk").objects.filter(job=job).order_by("index")
    assert [(c.status, c.attempts) for c in chunks] == [("done", 1), ("in_flight", 1)]
    calls = new.get_model("audit", "ProviderCall").objects.filter(operation_id=running_op.pk)
    assert sorted(calls.values_list("batch", flat=True)) == [0, 1]
    Operation = new.get_model("audit", "Operation")
    assert Operation.objects.get(pk=running_op.pk).status == "in_progress"
    assert Operation.objects.get(pk=stopped_op.pk).status == "stopped"
    legacy = Operation.objects.get(pk=cut_off.pk)
    assert legacy.status == "interrupted"
    assert legacy.finished_at is not None
    items = new.get_model("audit", "OperationItem").objects.filter(operation_id=cut_off.pk)
    assert [(i.outcome, i.search_key) for i in items.order_by("position")] == [
        ("unknown", "id-1"),
        ("unblocked", "maria-g"),
    ]
    # Counts stored for the rows written before (audit 0007), the final ones when finished.
    assert (legacy.item_total, legacy.item_done, legacy.call_total) == (2, 1, 0)
    assert legacy.outcome_counts == {"unknown": 1, "unblocked": 1}
    running = Operation.objects.get(pk=running_op.pk)
    assert (running.call_total, running.outcome_counts) == (2, {})

    # Operations finished before the hash chain existed join it (audit 0006).
    from suppression_admin.audit.chain import chain_verify

    finished = Operation.objects.filter(finished_at__isnull=False)
    assert finished.count() >= 1  # the cut-off unblock, closed by jobs 0002
    assert chain_verify() == (finished.count(), None)
