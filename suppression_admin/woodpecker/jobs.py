"""Running a removal job: chunks of at most 500, checkpointed, one request at a time per key.

Any number of workers may run the same job; they take chunks in turn. A chunk is claimed
and sent while holding the key's lock (woodpecker.keylock), which also serialises every
other request for that key. So whoever holds the lock knows no request for the key is in
flight: a chunk still marked "in flight" then belongs to a process that died. If the audit
holds its request, the outcome is settled by looking its addresses up — never by sending
it again blind; if not, the request never went out and the chunk is simply sent.

Nothing here depends on the task framework's record of the task: a task killed with SIGKILL
stays "running" there forever, while the job resumes as soon as any worker runs it again
(``removal_jobs_recover`` enqueues unfinished jobs when a worker starts).
"""

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from suppression_admin.audit.models import ItemOutcome, OperationItem, ProviderCall
from suppression_admin.audit.services import (
    AuditCallLog,
    operation_add_invalid_items,
    operation_finish,
    operation_mark_started,
)
from suppression_admin.connections import woodpecker_client, woodpecker_endpoint
from suppression_admin.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderValidationError,
)
from suppression_admin.providers.woodpecker import MAX_EMAILS_PER_CALL, WoodpeckerClient
from suppression_admin.woodpecker.chunks import (
    OUTCOME_COUNTER,
    WORKER_NAME,
    ChunkRecord,
    chunk_last_claim_sent,
    items_write_ahead,
)
from suppression_admin.woodpecker.keylock import (
    KeyBusy,
    key_fingerprint,
    key_lock,
    one_request_at_a_time,
)
from suppression_admin.woodpecker.models import (
    FINISHED_STATUSES,
    OPEN_CHUNK_STATUSES,
    ChunkStatus,
    JobStatus,
    RemovalChunk,
    RemovalJob,
)
from suppression_admin.woodpecker.pipeline import Pipeline

logger = logging.getLogger(__name__)

sleep = time.sleep  # replaced in tests

# How long one worker keeps a key before letting other jobs and look-ups have a turn.
TURN_SECONDS = 5.0
# A wait Woodpecker asked for is slept in slices this long, checking for a cancel between.
REST_SLICE_SECONDS = 1.0

LOST_ANSWER = "The request's answer never arrived"
CANCELLED = "Cancelled at the operator's request."
KEY_CHANGED = (
    "The Woodpecker API key changed since this job started; it was not continued with "
    "another account's key."
)


@dataclass
class _Retry:
    """Woodpecker asked to wait (429/503): the job rests until ``until``."""

    until: datetime

    @property
    def wait(self) -> float:
        return max(0.0, (self.until - timezone.now()).total_seconds())


@dataclass
class _Stop:
    reason: str
    cancelled: bool = False


class _Done:
    """No chunk is left to send."""


def removal_job_run(job_id: int) -> RemovalJob:
    """Work on the job until no chunk is left for this worker, then finish it if all are done.

    Safe to run concurrently for one job and to run again after a crash.
    """
    job = (
        RemovalJob.objects.select_related("operation", "draft")
        .defer("draft__unused_csv")
        .get(pk=job_id)
    )
    if job.is_finished:
        return job
    # Chunks first, even if nothing can be sent: _stop then still accounts for every address.
    _prepare(job)
    try:
        api_key = woodpecker_endpoint().api_key
    except ProviderNotConfigured as error:
        return _stop_without_the_key(job, str(error))
    if key_fingerprint(api_key) != job.key_fingerprint:
        return _stop_without_the_key(job, KEY_CHANGED)

    emails = job.draft.email_list()
    call_log = AuditCallLog(job.operation)
    client = woodpecker_client(call_log=call_log)
    try:
        while True:
            job.refresh_from_db(fields=["cancel_requested", "status", "resume_at"])
            if job.is_finished:
                break
            if job.cancel_requested:
                # The stop accounts for every address; the writing need not hold the key.
                items_write_ahead(job, emails, job.total)
            try:
                with one_request_at_a_time(
                    api_key, wait_seconds=settings.WOODPECKER_KEY_WAIT_SECONDS
                ):
                    step = _turn(job, emails, client, call_log)
                    if isinstance(step, _Stop):
                        # Under the lock: no request of ours is out, so no chunk in flight
                        # is overwritten; any left in flight belong to dead workers. They
                        # are looked up, unless Woodpecker asked us to wait.
                        _reload(job)
                        lookup = None if job.resting else (client, call_log)
                        _stop(job, step.reason, cancelled=step.cancelled, lookup=lookup)
            except KeyBusy:
                continue  # another job holds the key for long; keep waiting our turn
            if isinstance(step, _Done | _Stop):
                break
            if isinstance(step, _Retry):
                _rest(job, step)
    finally:
        client.close()
    return _finish(job)


def _rest(job: RemovalJob, step: _Retry) -> None:
    """Wait as Woodpecker asked, a slice at a time, so that a cancel is not kept waiting."""
    slices = max(1, math.ceil(step.wait / REST_SLICE_SECONDS))
    for _ in range(slices):
        sleep(step.wait / slices)
        job.refresh_from_db(fields=["cancel_requested"])
        if job.cancel_requested:
            return
    # Rested: the job may go on (unless Woodpecker has asked for a new wait meanwhile).
    RemovalJob.objects.filter(pk=job.pk, resume_at=step.until).update(resume_at=None)


def _stop_without_the_key(job: RemovalJob, reason: str) -> RemovalJob:
    """Stop a job whose key is gone or changed, under the lock its old key named.

    A worker still running with the old key has no request out while this holds the lock;
    chunks left in flight cannot be looked up with another account's key: they are unknown.
    """
    while True:
        try:
            with key_lock(job.key_fingerprint, wait_seconds=settings.WOODPECKER_KEY_WAIT_SECONDS):
                _stop(job, reason)
            return _finish(job)
        except KeyBusy:
            continue


def _turn(
    job: RemovalJob,
    emails: list[str],
    client: WoodpeckerClient,
    call_log: AuditCallLog,
) -> "_Retry | _Stop | _Done | None":
    """One turn on the key (the caller holds its lock).

    First any chunk that needs care (orphaned by a dead worker, or waiting for a retry) is
    handled on its own; then the fresh ones go back to back (woodpecker.pipeline). The turn
    ends after TURN_SECONDS so other jobs and look-ups get the key. Returns None when the
    turn is over, _Done when no chunk is left.
    """
    call_log.resync()
    if job.cancel_requested:
        return _Stop(CANCELLED, cancelled=True)
    if job.resume_at and job.resume_at > timezone.now():
        return _Retry(job.resume_at)  # another worker was told to wait; so is this one
    turn_ends = time.monotonic() + TURN_SECONDS
    while (chunk := _claim_needing_care(job)) is not None:
        items_write_ahead(job, emails, chunk.last_position + 1)
        if step := _attempt(job, chunk, client, call_log, emails):
            return step
        if time.monotonic() > turn_ends:
            return None

    fresh = list(
        RemovalChunk.objects.filter(job=job, status=ChunkStatus.PENDING, attempts=0).order_by(
            "index"
        )
    )
    if not fresh:
        return _Done()
    pipeline = Pipeline(job, emails, client, call_log)
    failed = pipeline.run(fresh, turn_ends)
    if failed is None:
        finished = not pipeline.cancelled and not _open_chunks(job).exists()
        return _Done() if finished else None
    return _after_error(
        client,
        call_log,
        failed.chunk,
        ChunkRecord(job, failed.chunk),
        error=failed.error,
        call=failed.call,
        pending=failed.pending,
    )


def _prepare(job: RemovalJob) -> None:
    """Write the job's chunks, once, and the first items; the rest are written as it runs."""
    if job.prepared:
        return
    with transaction.atomic():
        locked = RemovalJob.objects.select_for_update().get(pk=job.pk)
        if not locked.prepared:
            total = job.draft.valid_count
            RemovalChunk.objects.bulk_create(
                [
                    RemovalChunk(
                        job=job,
                        index=index,
                        first_position=start,
                        last_position=min(start + MAX_EMAILS_PER_CALL, total) - 1,
                    )
                    for index, start in enumerate(range(0, total, MAX_EMAILS_PER_CALL))
                ],
                batch_size=1000,
            )
            # After the valid addresses' positions: the rows refused before sending.
            operation_add_invalid_items(
                job.operation,
                (
                    (value, f"Row {row}: {reason}; not sent.")
                    for row, value, reason in job.draft.invalid_rows
                ),
                first_position=total,
            )
            operation_mark_started(job.operation)
            RemovalJob.objects.filter(pk=job.pk).update(
                prepared=True, status=JobStatus.RUNNING, started_at=timezone.now()
            )
    _reload(job)


def _claim_needing_care(job: RemovalJob) -> RemovalChunk | None:
    """The next open chunk already tried, or left in flight by a worker that died.

    Called with the key's lock held, between pipelined runs. A chunk in flight whose
    requests are all in the audit (one per attempt) lost its last answer: it is "orphaned",
    and looked up before anything is sent again; its next attempt is counted only when it
    is sent. If the audit lacks the last request, that claim never went out and is this
    attempt. A chunk waiting for a retry starts a new attempt.
    """
    chunk = (
        _open_chunks(job)
        .filter(Q(status=ChunkStatus.IN_FLIGHT) | Q(attempts__gt=0))
        .order_by("index")
        .first()
    )
    if chunk is None:
        return None
    in_flight = chunk.status == ChunkStatus.IN_FLIGHT
    chunk.orphaned = in_flight and chunk_last_claim_sent(job, chunk)
    if not in_flight:
        chunk.attempts += 1
    chunk.status = ChunkStatus.IN_FLIGHT
    chunk.claimed_by = WORKER_NAME
    chunk.claimed_at = timezone.now()
    chunk.save(update_fields=["status", "attempts", "claimed_by", "claimed_at"])
    return chunk


def _open_chunks(job: RemovalJob):
    return RemovalChunk.objects.filter(job=job, status__in=OPEN_CHUNK_STATUSES)


def _attempt(
    job: RemovalJob,
    chunk: RemovalChunk,
    client: WoodpeckerClient,
    call_log: AuditCallLog,
    emails: list[str],
) -> _Retry | _Stop | None:
    """Send the chunk's unsettled addresses once; settle, record and say what comes next."""
    record = ChunkRecord(job, chunk)
    call_log.batch = chunk.index
    if chunk.orphaned:
        pending = record.pending()
        looked_up = True  # nothing pending: an earlier look-up settled them all
        if pending:
            still_listed = _settle_by_lookup(
                client, call_log, record, pending, why=f"{LOST_ANSWER} (its worker stopped)."
            )
            looked_up, pending = still_listed is not None, still_listed or []
        _mark_lost_calls(job, chunk, looked_up=looked_up)
        if pending:
            # Counted only now: a worker that dies before this point leaves the chunk
            # orphaned, and the next one looks it up again rather than sending it blind.
            chunk.attempts += 1
            chunk.save(update_fields=["attempts"])
    elif chunk.attempts == 1:
        # First time out: every address of the chunk is pending, no need to ask the database.
        pending = emails[chunk.first_position : chunk.last_position + 1]
    else:
        pending = record.pending()
    if not pending:
        record.done()
        return None

    suffix = f" (attempt {chunk.attempts})" if chunk.attempts > 1 else ""
    call_log.purpose = f"remove chunk {chunk.index + 1}{suffix}"
    try:
        removed = client.remove(pending)
    except ProviderError as error:
        return _after_error(
            client, call_log, chunk, record, error=error, call=call_log.last_call, pending=pending
        )
    record.answered(pending, removed, call_log.last_call)
    return None


def _after_error(
    client: WoodpeckerClient,
    call_log: AuditCallLog,
    chunk: RemovalChunk,
    record: ChunkRecord,
    *,
    error: ProviderError,
    call: ProviderCall | None,
    pending: list[str],
) -> "_Retry | _Stop | None":
    """What a failed send means: stop, settle by look-up, or try again later."""
    if isinstance(error, ProviderAuthError | ProviderValidationError):
        record.set(ItemOutcome.FAILED, error.message, call)
        record.done()
        return _Stop(error.message)
    if not error.proves_not_applied:
        pending = _settle_by_lookup(client, call_log, record, pending, why=error.message) or []
        if not pending:
            record.done()
            return None
    return _retry_later(chunk, record, error, call)


def _retry_later(
    chunk: RemovalChunk, record: ChunkRecord, error: ProviderError, call: ProviderCall | None
) -> _Retry | _Stop:
    wait = error.retry_after if error.retry_after is not None else min(2.0**chunk.attempts, 60)
    # Held even if the job stops now: its stop then sends no look-ups either.
    until = timezone.now() + timedelta(seconds=wait)
    RemovalJob.objects.filter(pk=record.job.pk).update(resume_at=until)
    limit = settings.WOODPECKER_MAX_RETRY_AFTER_SECONDS
    if chunk.attempts >= settings.WOODPECKER_MAX_CHUNK_ATTEMPTS or wait > limit:
        why = (
            f"Woodpecker asked us to wait {wait:.0f} s (more than {limit} s)."
            if wait > limit
            else f"Gave up after {chunk.attempts} attempts."
        )
        record.set(ItemOutcome.FAILED, f"{error.message} {why} Not removed.", call)
        record.done()
        return _Stop(f"{error.message} {why}")
    # Back to pending: nothing of it is in flight while we wait, and any worker may resume
    # it, but none before the wait is over.
    RemovalChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.PENDING)
    return _Retry(until)


def _settle_by_lookup(
    client: WoodpeckerClient,
    call_log: AuditCallLog,
    record: ChunkRecord,
    pending: list[str],
    *,
    why: str,
) -> list[str] | None:
    """Look the addresses up: gone ones are settled; returns the ones still listed.

    If the look-up fails, they are recorded as unknown and None is returned.
    """
    call_log.purpose = "look-up to settle an unknown outcome"
    try:
        listed = {email.lower() for email in client.lookup(pending)}
    except ProviderError as error:
        record.set(
            ItemOutcome.UNKNOWN, f"{why} The look-up to check it failed too: {error.message}"
        )
        return None
    gone = [email for email in pending if email not in listed]
    record.set(
        ItemOutcome.REMOVED,
        f"{why} Not on the blacklist afterwards (checked by look-up): removed by that "
        "request, or not on it before.",
        only=gone,
    )
    return [email for email in pending if email in listed]


def _mark_lost_calls(job: RemovalJob, chunk: RemovalChunk, *, looked_up: bool) -> None:
    """Say on the dead worker's request (killed: no finish; crashed: "Interrupted")."""
    after = " Its addresses were looked up afterwards." if looked_up else ""
    ProviderCall.objects.filter(
        Q(finished_at__isnull=True) | Q(error__startswith="Interrupted"),
        operation=job.operation,
        batch=chunk.index,
        status_code__isnull=True,
    ).update(error=f"No answer recorded: the worker stopped before recording it.{after}")


def _stop(
    job: RemovalJob,
    reason: str,
    *,
    cancelled: bool = False,
    lookup: tuple[WoodpeckerClient, AuditCallLog] | None = None,
) -> None:
    """Nothing more is sent: every unsent address is recorded as not sent, and why.

    Chunks a dead worker left in flight are settled first: looked up when the caller can
    (it holds the key's lock and passes ``lookup``), else recorded as unknown.
    """
    detail = f"Not sent: {reason}"
    if job.items_written < job.total:  # every address accounted for
        items_write_ahead(job, job.draft.email_list(), job.total)
    for chunk in RemovalChunk.objects.filter(job=job, status=ChunkStatus.IN_FLIGHT):
        _settle_left_in_flight(job, chunk, reason, lookup)
    with transaction.atomic():
        RemovalJob.objects.filter(pk=job.pk).update(
            stop_reason=reason, cancel_requested=job.cancel_requested or cancelled
        )
        # Finished chunks have no pending item left: the pending ones are the unsent ones.
        unsent = OperationItem.objects.filter(
            operation=job.operation, outcome=ItemOutcome.PENDING
        ).update(outcome=ItemOutcome.NOT_SENT, detail=detail)
        RemovalJob.objects.filter(pk=job.pk).update(not_sent=F("not_sent") + unsent)
        _open_chunks(job).update(status=ChunkStatus.NOT_SENT)
    _reload(job)


def _settle_left_in_flight(
    job: RemovalJob,
    chunk: RemovalChunk,
    reason: str,
    lookup: tuple[WoodpeckerClient, AuditCallLog] | None,
) -> None:
    if not chunk_last_claim_sent(job, chunk):
        return  # claimed, never sent: its addresses are simply not sent
    record = ChunkRecord(job, chunk)
    pending = record.pending()
    lost = f"{LOST_ANSWER} (its worker stopped)"
    looked_up = not pending
    if pending and lookup is not None:
        client, call_log = lookup
        call_log.batch = chunk.index
        still_listed = _settle_by_lookup(client, call_log, record, pending, why=f"{lost}.")
        looked_up = still_listed is not None
        record.set(
            ItemOutcome.NOT_SENT,
            f"{lost}; a look-up found it still on the blacklist. Not sent again: {reason}",
            only=still_listed or [],
        )
    elif pending:
        record.set(ItemOutcome.UNKNOWN, f"{lost}, and it could not be looked up: {reason}")
    _mark_lost_calls(job, chunk, looked_up=looked_up)
    record.done()


def _finish(job: RemovalJob) -> RemovalJob:
    """Close the job and its operation once no chunk is left open (exactly once)."""
    _reload(job)
    if job.is_finished:
        return job
    if _open_chunks(job).exists():
        return job  # another worker is still on it, or it will be resumed
    if job.cancel_requested:
        status = JobStatus.CANCELLED
    elif job.stop_reason:
        status = JobStatus.FAILED
    elif job.removed + job.not_listed == job.total:
        status = JobStatus.SUCCEEDED
    else:
        status = JobStatus.PARTIAL
    won = (
        RemovalJob.objects.filter(pk=job.pk)
        .exclude(status__in=FINISHED_STATUSES)
        .update(status=status, finished_at=timezone.now())
    )
    if won:
        summary = _summary(job, status)
        operation_finish(job.operation, summary=summary, outcome_counts=_outcome_counts(job))
    _reload(job)
    return job


def _outcome_counts(job: RemovalJob) -> dict[str, int]:
    """The job's tally, kept chunk by chunk from the items' recorded outcomes."""
    counts = {outcome: getattr(job, counter) for outcome, counter in OUTCOME_COUNTER.items()}
    counts[ItemOutcome.INVALID] = len(job.draft.invalid_rows)
    return counts


def _reload(job: RemovalJob) -> None:
    # Only the job's own columns: a full refresh would drop the cached draft, whose address
    # list is megabytes for a large job.
    job.refresh_from_db(fields=_JOB_COLUMNS)


_JOB_COLUMNS = [
    field.attname
    for field in RemovalJob._meta.concrete_fields
    if not field.is_relation and not field.primary_key
]


def _summary(job: RemovalJob, status: str) -> str:
    parts = [
        f"{job.removed} removed",
        f"{job.not_listed} were not on the blacklist",
    ]
    for count, words in (
        (job.failed, "failed"),
        (job.unknown, "unknown"),
        (job.not_sent, "not sent"),
    ):
        if count:
            parts.append(f"{count} {words}")
    text = f"{job.total} addresses: " + ", ".join(parts) + "."
    if invalid := len(job.draft.invalid_rows):
        text += f" {invalid} invalid row{'s' if invalid != 1 else ''} in the file, not sent."
    if job.stop_reason:
        text += f" {'Cancelled' if status == JobStatus.CANCELLED else 'Stopped'}: {job.stop_reason}"
    return text


def removal_jobs_recover() -> list[int]:
    """Schedule every unfinished job again; a worker that finds nothing left just returns.

    Run when a worker starts and by ``recover_removal_jobs`` (e.g. from cron), because the
    task framework leaves a task killed mid-way marked as running forever.
    """
    from suppression_admin.woodpecker.tasks import run_removal_job

    job_ids = list(
        RemovalJob.objects.exclude(status__in=FINISHED_STATUSES).values_list("pk", flat=True)
    )
    for job_id in job_ids:
        run_removal_job.enqueue(job_id)
    return job_ids
