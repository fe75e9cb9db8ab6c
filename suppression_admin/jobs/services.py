"""Job use cases: record one for an operation, cancel it, say who did what.

The job itself runs in the background (jobs.engine, through jobs.tasks); these functions
only record and schedule, so a web request never waits on a provider.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from suppression_admin.audit.models import EventKind, Operation
from suppression_admin.audit.services import operation_event
from suppression_admin.jobs.engine import job_stop_unowned
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.tasks import job_enqueue


class RetryRefused(ValueError):
    """The job cannot be retried (the message says why); ``retry`` is the one made already."""

    def __init__(self, message: str, *, retry: Job | None = None) -> None:
        super().__init__(message)
        self.retry = retry


def job_retry_check(job: Job) -> None:
    """Raises RetryRefused unless ``job`` has ended with items not sent or unknown and was not
    retried yet (one retry per job: the retry's own leftovers are retried from it)."""
    if not job.is_finished:
        raise RetryRefused(f"Job #{job.pk} has not ended yet; retry it once it has.")
    retry = job.retries.order_by("pk").first()
    if retry is not None:
        raise RetryRefused(
            f"Job #{job.pk} was already retried as job #{retry.pk}, which sends its leftovers.",
            retry=retry,
        )
    if not job.retryable:
        raise RetryRefused(f"Job #{job.pk} has nothing left to retry.")


def job_create(
    *,
    operation: Operation,
    actor: AbstractBaseUser,
    key_fingerprint: str,
    total: int,
    items_written: int = 0,
    retry_of: Job | None = None,
    schedule: bool = True,
) -> Job:
    """Inside the caller's transaction: the job for an operation just recorded.

    ``items_written``: how many of its items the caller already wrote (all, for WaLead; a
    removal job writes its addresses as it goes). Queued once the transaction commits,
    unless ``schedule`` is False (a command runs it in its own process). A retry is refused
    (RetryRefused) if its job was retried meanwhile, from another tab say.
    """
    if retry_of is not None:
        retry_of = Job.objects.select_for_update().select_related("operation").get(pk=retry_of.pk)
        job_retry_check(retry_of)
    job = Job.objects.create(
        operation=operation,
        provider=operation.provider,
        created_by=actor,
        key_fingerprint=key_fingerprint,
        total=total,
        items_written=items_written,
        retry_of=retry_of,
    )
    operation_event(operation, EventKind.REQUESTED, actor=actor, detail=f"{total:,} to send.")
    if retry_of is not None:
        operation_event(operation, EventKind.RETRY_OF, actor=actor, detail=f"job #{retry_of.pk}")
        operation_event(
            retry_of.operation, EventKind.RETRIED_AS, actor=actor, detail=f"job #{job.pk}"
        )
    if schedule:
        transaction.on_commit(lambda: job_enqueue(job))
    return job


def job_cancel(job: Job, *, actor: AbstractBaseUser) -> bool:
    """Ask the job to stop after the request it has out; False if it already ended.

    The job's runner sees the cancel in the transaction that claims its next chunk, and
    records every item not sent. If no worker holds the job and nothing of it is out, the
    stop is recorded here and now, rather than waiting for a worker.
    """
    with transaction.atomic():
        row = Job.objects.select_for_update().select_related("operation").get(pk=job.pk)
        if row.is_finished or row.cancel_requested:
            return False
        Job.objects.filter(pk=job.pk).update(cancel_requested=True, cancel_requested_by=actor)
        operation_event(row.operation, EventKind.CANCEL_REQUESTED, actor=actor)
    job_stop_unowned(row, worker_id=f"web:{actor.get_username()}"[:64])
    return True
