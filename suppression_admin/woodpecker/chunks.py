"""A removal job's chunks: claiming one, writing its audit items, recording its outcome.

A chunk is a range of audit item positions (at most 500 addresses). These are the steps
both ways of sending share: the pipeline for fresh chunks and the careful path for chunks
that were tried before or orphaned.
"""

import os
import socket
from collections.abc import Collection

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from suppression_admin.audit.models import ItemOutcome, OperationItem, ProviderCall
from suppression_admin.audit.services import operation_add_items
from suppression_admin.woodpecker.models import (
    OPEN_CHUNK_STATUSES,
    ChunkStatus,
    RemovalChunk,
    RemovalJob,
)

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"

OUTCOME_COUNTER = {
    ItemOutcome.REMOVED: "removed",
    ItemOutcome.NOT_LISTED: "not_listed",
    ItemOutcome.FAILED: "failed",
    ItemOutcome.UNKNOWN: "unknown",
    ItemOutcome.NOT_SENT: "not_sent",
}


def chunk_claim_fresh(chunk: RemovalChunk) -> bool:
    """Mark a never-sent chunk in flight; False if a cancel closed it meanwhile."""
    claimed = RemovalChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.PENDING).update(
        status=ChunkStatus.IN_FLIGHT,
        attempts=1,
        claimed_by=WORKER_NAME,
        claimed_at=timezone.now(),
    )
    if claimed:
        chunk.status, chunk.attempts = ChunkStatus.IN_FLIGHT, 1
    return bool(claimed)


def chunk_release(chunk: RemovalChunk) -> None:
    """A claimed chunk that will not be sent after all: back to pending, as if never claimed."""
    RemovalChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.IN_FLIGHT).update(
        status=ChunkStatus.PENDING, attempts=F("attempts") - 1
    )


def chunk_last_claim_sent(job: RemovalJob, chunk: RemovalChunk) -> bool:
    """Whether the chunk's last claim went out: the audit holds one request per attempt.

    A call row is written before each request, so a claim without one was never sent.
    """
    sent = ProviderCall.objects.filter(
        operation_id=job.operation_id, batch=chunk.index, method="DELETE"
    ).count()
    return sent >= chunk.attempts


def items_write_ahead(job: RemovalJob, emails: list[str], upto: int) -> None:
    """Make sure the audit items below position ``upto`` exist (each exactly once).

    Called before a chunk is sent, so every address is in the audit before its request;
    normally while the previous request is out, so a million rows never delay a send.
    """
    upto = min(upto, len(emails))
    if job.items_written >= upto:
        return
    with transaction.atomic():
        written = (
            RemovalJob.objects.select_for_update()
            .values_list("items_written", flat=True)
            .get(pk=job.pk)
        )
        if written < upto:
            operation_add_items(job.operation, emails[written:upto], first_position=written)
            RemovalJob.objects.filter(pk=job.pk).update(items_written=upto)
            written = upto
    job.items_written = written


class ChunkRecord:
    """Writes outcomes of a chunk's still-pending items, a range at a time, not row by row."""

    def __init__(self, job: RemovalJob, chunk: RemovalChunk) -> None:
        self.job = job
        self.chunk = chunk

    def _items(self):
        return OperationItem.objects.filter(
            operation_id=self.job.operation_id,
            position__gte=self.chunk.first_position,
            position__lte=self.chunk.last_position,
        )

    def pending(self) -> list[str]:
        pending = self._items().filter(outcome=ItemOutcome.PENDING).order_by("position")
        return list(pending.values_list("identifier", flat=True))

    def set(
        self,
        outcome: str,
        detail: str,
        call: ProviderCall | None = None,
        *,
        only: Collection[str] | None = None,
    ) -> None:
        rows = self._items().filter(outcome=ItemOutcome.PENDING)
        if only is not None:
            if not only:
                return
            rows = rows.filter(identifier__in=list(only))
        rows.update(outcome=outcome, detail=detail, **({"call": call} if call else {}))

    def answered(self, pending: list[str], removed: list[str], call: ProviderCall | None) -> None:
        """Woodpecker answered the removal of ``pending``: it removed ``removed``.

        The outcomes and the checkpoint are committed together.
        """
        removed_set = {email.lower() for email in removed}
        with transaction.atomic():
            if removed_set.issuperset(pending):
                self.set(ItemOutcome.REMOVED, "Removed from the blacklist.", call)
            else:
                self.set(ItemOutcome.REMOVED, "Removed from the blacklist.", call, only=removed_set)
                self.set(ItemOutcome.NOT_LISTED, "Was not on the blacklist.", call)
            self.done()

    def done(self) -> None:
        """Checkpoint: the chunk is finished and the job's counters include it."""
        counts = dict(
            self._items().values("outcome").annotate(n=Count("pk")).values_list("outcome", "n")
        )
        advance = {
            OUTCOME_COUNTER[outcome]: F(OUTCOME_COUNTER[outcome]) + n
            for outcome, n in counts.items()
            if outcome in OUTCOME_COUNTER
        }
        with transaction.atomic():
            closed = RemovalChunk.objects.filter(
                pk=self.chunk.pk, status__in=OPEN_CHUNK_STATUSES
            ).update(status=ChunkStatus.DONE, done_at=timezone.now())
            # Counted once, however often a chunk is closed, and never after a stop closed it.
            if closed:
                RemovalJob.objects.filter(pk=self.job.pk).update(**advance)
