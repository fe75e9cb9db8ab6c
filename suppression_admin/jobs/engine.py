"""Running a job: its items sent in chunks, one request at a time per key, checkpointed.

One worker runs a job at a time: the one holding its lease, which that worker's heartbeat
renews (jobs.workers). If the worker dies, the lease runs out and another worker takes the
job over, and finds its chunks in one of these states:

| chunk state      | what it means                         | what the job's runner does with it  |
|------------------|---------------------------------------|-------------------------------------|
| pending,         | never sent                            | claims it and sends it              |
| attempts 0       |                                       |                                     |
| pending,         | tried before: the answer proved       | sends it again once the job's rest  |
| attempts > 0     | nothing was applied (429, 503, no     | (``resume_at``) is over; stops the  |
|                  | connection), or a look-up found its   | job after JOB_MAX_ATTEMPTS          |
|                  | items still listed                    |                                     |
| in flight        | claimed and its call row written, in  | first thing in every run: looks its |
|                  | one transaction; its request may have | pending items up (the key is quiet  |
|                  | gone out, its answer is not recorded  | until that request cannot still be  |
|                  | (its worker died, or the answer is    | running, see keys.lock). Gone: "off |
|                  | still in hand). At most two: the one  | the list (checked by look-up)";     |
|                  | out, and the one answered before it   | still listed: pending again         |
| done             | every item has its outcome, counted   | nothing, ever                       |
| not sent         | closed by a stop (a cancel included)  | nothing, ever                       |

The loop (``_send_chunks``), one key turn per chunk:
1. one transaction: the lease checked, the next chunk claimed (the cancel is checked here,
   in the job's locked row: a cancel either came first and nothing more is claimed, or
   after, and this chunk goes out), its call row written;
2. the request is written, and while it is out (``_while_out``, one transaction): the
   previous chunk's answer and outcomes recorded, the next items written ahead;
3. its answer is read; it stays in hand until step 2 of the next chunk (or the run's end).
A killed worker loses at most one answer in hand and one request out: both chunks are in
flight, and looked up. (A WaLead chunk does step 2 first: nothing to overlap with there.)

A failed request is decided in ``_after_failure``, the same way for both providers: a refused
key or request stops the job; an answer that proves nothing was applied is retried after a
rest; an unknown outcome is settled by looking the items up.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from suppression_admin.audit.chain import ItemsDigest, items_digest
from suppression_admin.audit.models import (
    DONE_OUTCOMES,
    EventKind,
    ItemOutcome,
    OperationItem,
    OperationStatus,
    Provider,
    ProviderCall,
)
from suppression_admin.audit.services import (
    AuditCallLog,
    call_save_answer,
    operation_add_items,
    operation_count,
    operation_event,
    operation_finish,
    operation_mark_started,
    status_from_outcomes,
)
from suppression_admin.jobs.models import Chunk, ChunkStatus, Job, Worker
from suppression_admin.jobs.senders import (
    CannotRun,
    PendingItem,
    Sender,
    sender_for,
    unwritten_identifiers,
)
from suppression_admin.keys.lock import KeyBusy, KeyResting
from suppression_admin.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    ProviderValidationError,
)

logger = logging.getLogger(__name__)

# The clock a job rests by, replaced in tests (with keys.lock's) to rest without waiting.
sleep = time.sleep
now = timezone.now

OPEN_CHUNKS = (ChunkStatus.PENDING, ChunkStatus.IN_FLIGHT)
# Items are written this many at a time, ahead of the requests that carry them.
ITEMS_AHEAD = 5000
# A rest is slept in slices this long, so that a cancel is not kept waiting.
REST_SLICE_SECONDS = 1.0

LOST_ANSWER = "The request's answer was not recorded: its worker stopped."
ANSWER_NOT_RECORDED = "Its answer came, but its outcomes were not recorded (its worker stopped)."
LOST_CALL = (
    "No answer recorded: its worker stopped, so the request may or may not have gone out. "
    "Its items were looked up afterwards."
)

COUNTER = {
    ItemOutcome.REMOVED: "done",
    ItemOutcome.UNBLOCKED: "done",
    ItemOutcome.NOT_LISTED: "not_listed",
    ItemOutcome.GONE: "gone",
    ItemOutcome.FAILED: "failed",
    ItemOutcome.UNKNOWN: "unknown",
    ItemOutcome.NOT_SENT: "not_sent",
}


class LeaseLost(Exception):
    """Another worker took the job over: this one must not touch it any more."""


@dataclass
class _Rest:
    until: datetime


@dataclass
class _Stop:
    reason: str
    cancelled: bool = False


class _Done:
    """No chunk is left to send."""


class _SliceOver:
    """The run had its time; the job goes on in a later run."""


class _InFlight:
    """A chunk in flight must be settled before anything else is sent."""


Step = _Rest | _Stop | _Done | _SliceOver | _InFlight


@dataclass
class _Claim:
    chunk: Chunk
    items: list[PendingItem]
    request: object
    call: ProviderCall


@dataclass
class _Outcomes:
    """Outcomes for a chunk's pending items: (outcome, detail, identifiers or None for all
    the others still pending), in order."""

    chunk: Chunk
    call: ProviderCall | None
    decided: list[tuple[str, str, list[str] | None]] = field(default_factory=list)
    closes_chunk: bool = True
    # The call's answer is only in memory yet: written with these outcomes.
    answer_in_hand: bool = False


# -- one run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    job: Job
    # Set when this run left work for a next run, and from when (the end of a rest).
    go_on_at: datetime | None = None


def job_run(
    job_id: int,
    *,
    worker_id: str,
    seconds: float | None = None,
    on_pause: Callable[[datetime], None] | None = None,
) -> Run:
    """Run the job as ``worker_id`` until it is finished, or for about ``seconds``.

    Does nothing if another live worker holds the job. A provider's failures are recorded,
    never raised. A process that cannot reach the job's provider account leaves the job
    waiting and says why on it (a worker never ends a job for its own configuration). When
    work is left for a next run, ``on_pause(when)`` is called before the job is let go (a
    task queues its next run there, so the job never looks abandoned in between).
    """
    job = _load(job_id)
    if job.is_finished or not lease_take(job, worker_id):
        return Run(job)
    go_on_at = next_try = None
    try:
        sender = sender_for(job, AuditCallLog(job.operation))
        try:
            go_on_at = _run(job, sender, worker_id, seconds)
        finally:
            sender.close()
    except CannotRun as why:
        Job.objects.filter(pk=job.pk).update(waiting_note=str(why))
        next_try = now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
    except LeaseLost:
        logger.warning("Job #%s was taken over; worker %s let it go.", job.pk, worker_id)
    finally:
        try:
            if go_on_at is not None and on_pause is not None:
                on_pause(go_on_at)
        finally:
            # Also when this process is going down (SIGTERM, a crash of ours): the next
            # runner need not wait for the lease to run out.
            lease_release(job, worker_id, next_try=next_try or go_on_at)
    return Run(_load(job_id), go_on_at)


def _run(job: Job, sender: Sender, worker_id: str, seconds: float | None) -> datetime | None:
    """Returns when a next run should go on, or None when the job is finished."""
    _prepare(job, worker_id)
    ends = time.monotonic() + seconds if seconds else None
    while True:
        if _cancelled_with_nothing_out(job):
            # Stopping sends nothing, so it needs no turn on the key (which may be resting).
            _stop_and_finish(job, _Stop(_cancel_reason(job), cancelled=True), worker_id)
            return None
        try:
            with sender.turn():
                step = _settle_in_flight(job, sender, worker_id)
            if step is None:
                step = _send_chunks(job, sender, worker_id, ends)
        except KeyResting as quiet:
            step = _Rest(quiet.until)
        except KeyBusy:
            step = None  # another job's turn took long: the next turn checks cancel and lease
        if isinstance(step, _Rest):
            if _rest(job, step.until, worker_id, ends):
                continue
            return step.until  # the rest outlasts this run: the next one starts after it
        if isinstance(step, _Stop):
            _stop_and_finish(job, step, worker_id)
            return None
        if isinstance(step, _Done):
            # Every item has its outcome: hashed for the audit's seal before the finishing
            # transaction, which then stays short however big the job.
            _finish(job, worker_id, items=items_digest(job.pk))
            return None
        if ends is not None and time.monotonic() > ends:
            return now()


def _cancelled_with_nothing_out(job: Job) -> bool:
    cancelled = Job.objects.filter(pk=job.pk, cancel_requested=True).exists()
    in_flight = Chunk.objects.filter(job=job, status=ChunkStatus.IN_FLIGHT)
    return cancelled and not in_flight.exists()


def _send_chunks(job: Job, sender: Sender, worker_id: str, ends: float | None) -> Step:
    """Send chunk after chunk, a key turn each, until something else must happen."""
    in_hand: _Outcomes | None = None
    try:
        while True:
            if ends is not None and time.monotonic() > ends:
                return _SliceOver()
            with sender.turn():
                with transaction.atomic():
                    _lock(job, worker_id)
                    claim = _claim_next(job, sender, answered=in_hand)
                if not isinstance(claim, _Claim):
                    return claim
                previous, in_hand = in_hand, None
                meanwhile = _WhileOut(job, sender, worker_id, previous, claim)
                try:
                    in_hand, step = _send(job, sender, claim, worker_id, meanwhile)
                finally:
                    if previous is not None and not meanwhile.ran:
                        # The request failed before the writing could run: record it now.
                        _record_at_once(job, previous, worker_id)
                if step is not None:
                    return step
    finally:
        if in_hand is not None:
            _record_at_once(job, in_hand, worker_id)


class _WhileOut:
    """The writing done while a chunk's request is out (``_while_out``), once."""

    def __init__(self, job, sender, worker_id, previous, claim) -> None:
        self.args = (job, sender, worker_id, previous, claim)
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        _while_out(*self.args)


def _while_out(
    job: Job, sender: Sender, worker_id: str, previous: "_Outcomes | None", claim: "_Claim"
) -> None:
    """While a chunk's request is out: the previous chunk's outcomes, the next items ahead."""
    try:
        with transaction.atomic():
            _lock(job, worker_id)
            if previous is not None:
                _record(job, previous)
            size = settings.JOB_CHUNK_SIZES[job.provider]
            _write_items_ahead(job, sender, upto=claim.chunk.last_position + 1 + size)
    except BaseException:
        if previous is not None:
            _save_answer(previous.call)  # what the provider said stays in the audit
        raise


def _claim_next(job: Job, sender: Sender, *, answered: "_Outcomes | None") -> "_Claim | Step":
    """Inside the chunk's transaction, the job row locked: claim the next chunk, make sure
    its items exist, write its call row. Or say why nothing is sent now. The ``answered``
    chunk (its outcomes in hand) counts as finished."""
    while True:
        open_chunks = Chunk.objects.filter(job=job, status__in=OPEN_CHUNKS).order_by("index")
        if answered is not None:
            open_chunks = open_chunks.exclude(pk=answered.chunk.pk)
        chunk = open_chunks.first()
        if chunk is None:
            return _Done()
        if job.cancel_requested:
            return _Stop(_cancel_reason(job), cancelled=True)
        if job.resume_at and job.resume_at > now():
            return _Rest(job.resume_at)
        if chunk.status == ChunkStatus.IN_FLIGHT:
            return _InFlight()
        chunk.status = ChunkStatus.IN_FLIGHT
        chunk.attempts += 1
        Chunk.objects.filter(pk=chunk.pk).update(status=chunk.status, attempts=chunk.attempts)
        # Normally written while the request before was out; the first chunk's, here.
        _write_items_ahead(job, sender, upto=chunk.last_position + 1, batch=False)
        items = _pending_items(job, sender, chunk)
        if not items:  # settled by an earlier look-up
            _close(job, chunk)
            continue
        request = sender.request(items)
        call_log = sender.call_log
        attempt = f" (attempt {chunk.attempts})" if chunk.attempts > 1 else ""
        call_log.purpose = f"{_verb(job)} batch {chunk.index + 1}{attempt}"
        call_log.batch = chunk.index
        call = call_log.started(
            method=request.method,
            path=request.path,
            item_count=request.item_count,
            body=request.body,
        )
        # Its answer is written with the outcomes it decides, in the next transaction.
        call_log.keep_answer(call)
        return _Claim(chunk, items, request, call)


def _send(
    job: Job, sender: Sender, claim: _Claim, worker_id: str, meanwhile
) -> tuple[_Outcomes | None, Step | None]:
    """Send the claimed chunk (its call row is written), do ``meanwhile`` while it is out,
    and read what the answer says."""
    try:
        answer = sender.send(claim.request, recorded=claim.call, meanwhile=meanwhile)
        verdict = sender.verdict(claim.items, answer)
    except ProviderError as error:
        return None, _after_failure(job, sender, claim, error, worker_id)
    except BaseException:
        _save_answer(claim.call)  # an answer read before the failure stays in the audit
        raise
    outcomes = _Outcomes(claim.chunk, claim.call, list(verdict.decided), answer_in_hand=True)
    if verdict.unsettled:
        # A clear answer that does not account for every item: what a look-up still finds
        # listed was refused, not lost.
        try:
            gone, still = _look_up(sender, claim.chunk, verdict.unsettled, why=verdict.why)
        except BaseException:
            _save_answer(claim.call)
            raise
        outcomes.decided += gone
        outcomes.decided.append(
            (ItemOutcome.FAILED, f"{verdict.why} Still listed (checked by look-up).", still)
        )
    return outcomes, None


def _after_failure(
    job: Job, sender: Sender, claim: _Claim, error: ProviderError, worker_id: str
) -> Step | None:
    """What a failed request means, for every provider: stop, settle, or retry later."""
    chunk, call = claim.chunk, claim.call
    call_save_answer(call)  # a failure's answer is recorded at once (it needs no lease)
    if isinstance(error, ProviderAuthError | ProviderValidationError):
        _record_locked(
            job, worker_id, _Outcomes(chunk, call, [(ItemOutcome.FAILED, error.message, None)])
        )
        return _Stop(error.message)
    gone: list[tuple[str, str, list[str] | None]] = []
    if not error.proves_not_applied:
        try:
            gone, still = _look_up(sender, chunk, claim.items, why=error.message, later=True)
        except _LookUpLater as refused:
            return _Rest(refused.until)  # still in flight: looked up after the rest
        if not still:
            _record_locked(job, worker_id, _Outcomes(chunk, call, gone))
            return None
    wait = error.retry_after if error.retry_after is not None else min(2.0**chunk.attempts, 60)
    limit = settings.JOB_MAX_RETRY_AFTER_SECONDS
    if chunk.attempts >= settings.JOB_MAX_ATTEMPTS or wait > limit:
        why = (
            f"{Provider(job.provider).label} asked us to wait {wait:.0f} s (more than {limit} s)."
            if wait > limit
            else f"Gave up after {chunk.attempts} attempts."
        )
        failed = (ItemOutcome.FAILED, f"{error.message} {why} Nothing was changed for it.", None)
        _record_locked(job, worker_id, _Outcomes(chunk, call, [*gone, failed]))
        return _Stop(f"{error.message} {why}")
    until = now() + timedelta(seconds=wait)
    # Pending again (nothing of it is out while the job rests), in the same transaction as
    # what a look-up settled, under the job's lock.
    again = _Outcomes(chunk, call, gone, closes_chunk=False)
    _record_locked(job, worker_id, again, pending_until=until)
    return _Rest(until)


class _LookUpLater(Exception):
    """The look-up was refused for now (no connection, 429, 503, a busy key): the chunk
    stays in flight, to be looked up after a rest."""

    def __init__(self, until: datetime) -> None:
        self.until = until


def _look_up(
    sender: Sender, chunk: Chunk, items: list[PendingItem], *, why: str, later: bool = False
) -> tuple[list[tuple[str, str, list[str] | None]], list[str]]:
    """Which items are gone (decided: done) and which still listed (returned, to decide).

    If the look-up fails, every item is decided unknown; with ``later``, a look-up refused
    for now raises _LookUpLater instead (up to JOB_MAX_ATTEMPTS times in a run).
    """
    sender.call_log.purpose = "look-up to learn the outcome"
    sender.call_log.batch = chunk.index
    try:
        listed = sender.still_listed(items)
    except ProviderError as error:
        # Refused for now (429, 503, no connection, a busy or quiet key): try again after a
        # rest, a bounded number of times. Any other failure is final.
        if later and isinstance(error, KeyResting):
            # Our own key is quiet (a request of ours may still be running): wait it out,
            # not counted as the provider refusing.
            raise _LookUpLater(error.until) from error
        for_now = isinstance(error, ProviderRateLimited | ProviderUnavailable)
        if later and for_now:
            Chunk.objects.filter(pk=chunk.pk).update(look_ups_refused=F("look_ups_refused") + 1)
            refused = Chunk.objects.values_list("look_ups_refused", flat=True).get(pk=chunk.pk)
            if refused < settings.JOB_MAX_ATTEMPTS:
                wait = error.retry_after or min(2.0**refused, 60)
                raise _LookUpLater(now() + timedelta(seconds=wait)) from error
        unknown = f"{why} The look-up to check it failed too: {error.message}"
        return [(ItemOutcome.UNKNOWN, unknown, [item.identifier for item in items])], []
    gone = [item.identifier for item in items if item.identifier not in listed]
    still = [item.identifier for item in items if item.identifier in listed]
    return [(ItemOutcome.GONE, sender.gone_detail(why), gone)], still


def _settle_in_flight(job: Job, sender: Sender, worker_id: str) -> "_Rest | None":
    """Under the key's turn: chunks left in flight are looked up, not sent again blind.
    Returns a rest when the look-up is refused for now."""
    in_flight = Chunk.objects.filter(job=job, status=ChunkStatus.IN_FLIGHT).order_by("index")
    for chunk in in_flight:
        try:
            _settle_one_in_flight(job, sender, worker_id, chunk)
        except _LookUpLater as refused:
            return _Rest(refused.until)
    return None


def _settle_one_in_flight(job: Job, sender: Sender, worker_id: str, chunk: Chunk) -> None:
    writes = ProviderCall.objects.filter(operation_id=job.pk, batch=chunk.index).exclude(
        method="GET"
    )
    lost_call = writes.order_by("-sequence").first()
    # Its request either lost its worker, or its answer never came (its call says why).
    if (
        lost_call is None
        or lost_call.finished_at is None
        or lost_call.error.startswith("Interrupted")
    ):
        why = LOST_ANSWER
    else:  # its answer came: unknown, or read but its outcomes not recorded
        why = lost_call.error or ANSWER_NOT_RECORDED
    items = _pending_items(job, sender, chunk, fresh=False)
    gone, still = _look_up(sender, chunk, items, why=why, later=True) if items else ([], [])
    with transaction.atomic():
        _lock(job, worker_id)
        _record(job, _Outcomes(chunk, lost_call, gone, closes_chunk=not still))
        if still:
            Chunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.PENDING)
        # A call a crash of ours marked "Interrupted" keeps that: its answer is set once.
        writes.filter(status_code__isnull=True, finished_at__isnull=True).update(error=LOST_CALL)


# -- recording -------------------------------------------------------------------------------


def _record(job: Job, outcomes: _Outcomes) -> None:
    """Inside a transaction: set the chunk's pending items' outcomes, count them, and close
    the chunk (the checkpoint). Each item leaves "pending" once, so it is counted once."""
    chunk = outcomes.chunk
    if outcomes.answer_in_hand:
        call_save_answer(outcomes.call)
    counts: Counter[str] = Counter()
    done = 0
    for outcome, detail, identifiers in outcomes.decided:
        if identifiers is not None and not identifiers:
            continue
        rows = OperationItem.objects.filter(
            operation_id=job.pk,
            position__gte=chunk.first_position,
            position__lte=chunk.last_position,
            outcome=ItemOutcome.PENDING,
        )
        if identifiers is not None:
            rows = rows.filter(identifier__in=identifiers)
        changes = {"outcome": outcome, "detail": detail}
        if outcomes.call is not None:
            changes["call"] = outcomes.call
        changed = rows.update(**changes)
        counts[COUNTER[outcome]] += changed
        done += changed if outcome in DONE_OUTCOMES else 0
    operation_count(job.pk, done=done)
    if counts:
        Job.objects.filter(pk=job.pk).update(
            progressed_at=now(),
            **{counter: F(counter) + n for counter, n in counts.items()},
        )
    if outcomes.closes_chunk:
        _close(job, chunk)


def _close(job: Job, chunk: Chunk) -> None:
    Chunk.objects.filter(pk=chunk.pk, status__in=OPEN_CHUNKS).update(
        status=ChunkStatus.DONE, done_at=now()
    )


def _record_at_once(job: Job, outcomes: _Outcomes, worker_id: str) -> None:
    """Record an answer in hand when the loop ends (however it ends). If the job was taken
    over meanwhile, only the call's answer is kept: its new runner settles the chunk."""
    try:
        _record_locked(job, worker_id, outcomes)
    except LeaseLost:
        if outcomes.answer_in_hand:
            _save_answer(outcomes.call)


def _record_locked(
    job: Job, worker_id: str, outcomes: _Outcomes, *, pending_until: datetime | None = None
) -> None:
    """Record outcomes under the job's lock (LeaseLost if it is not this worker's any more);
    with ``pending_until``, the chunk goes back to pending and the job rests until then."""
    with transaction.atomic():
        _lock(job, worker_id)
        _record(job, outcomes)
        if pending_until is not None:
            Chunk.objects.filter(pk=outcomes.chunk.pk).update(status=ChunkStatus.PENDING)
            Job.objects.filter(pk=job.pk).update(resume_at=pending_until)


def _save_answer(call: ProviderCall | None) -> None:
    """Write a call's answer if one came (a failure of ours must not lose it). Never raises."""
    if call is None or call.finished_at is None:
        return
    try:
        call_save_answer(call)
    except Exception:
        logger.exception("Could not record the answer of call %s", call.pk)


def _pending_items(
    job: Job, sender: Sender, chunk: Chunk, *, fresh: bool = True
) -> list[PendingItem]:
    if fresh and chunk.attempts == 1:
        # A first attempt: every item is pending, and the sender may hold them already.
        identifiers = sender.fresh_identifiers(chunk.first_position, chunk.last_position)
        if identifiers is not None:
            return [
                PendingItem(chunk.first_position + offset, identifier)
                for offset, identifier in enumerate(identifiers)
            ]
    rows = OperationItem.objects.filter(
        operation_id=job.pk,
        position__gte=chunk.first_position,
        position__lte=chunk.last_position,
        outcome=ItemOutcome.PENDING,
    ).order_by("position")
    return [PendingItem(*row) for row in rows.values_list("position", "identifier", "label")]


def _write_items_ahead(job: Job, sender: Sender, *, upto: int, batch: bool = True) -> None:
    """Make sure the items below position ``upto`` exist; with ``batch``, a batch ahead."""
    upto = min(upto, job.total)
    if job.items_written >= upto:
        return
    target = min(job.total, max(upto, job.items_written + ITEMS_AHEAD) if batch else upto)
    identifiers = sender.fresh_identifiers(job.items_written, target - 1)
    assert identifiers is not None, "a job whose items are not all written holds them"
    operation_add_items(job.operation, identifiers, first_position=job.items_written)
    Job.objects.filter(pk=job.pk).update(items_written=target)
    job.items_written = target


# -- the job as a whole -----------------------------------------------------------------------


def _prepare(job: Job, worker_id: str) -> None:
    """Write the job's chunks, once, and say it started."""
    if job.prepared:
        return
    with transaction.atomic():
        _lock(job, worker_id)
        if Job.objects.filter(pk=job.pk, prepared=True).exists():
            return
        size = settings.JOB_CHUNK_SIZES[job.provider]
        Chunk.objects.bulk_create(
            [
                Chunk(
                    job=job,
                    index=index,
                    first_position=start,
                    last_position=min(start + size, job.total) - 1,
                )
                for index, start in enumerate(range(0, job.total, size))
            ],
            batch_size=1000,
        )
        operation_mark_started(job.operation)
        Job.objects.filter(pk=job.pk).update(prepared=True)
        operation_event(job.operation, EventKind.STARTED, detail=f"On worker {worker_id}.")
    job.prepared = True


def _rest(job: Job, until: datetime, worker_id: str, ends: float | None) -> bool:
    """Wait until ``until`` (the job's page shows it), a slice at a time. True when rested
    or cancelled; False when the rest outlasts this run (the next run starts after it)."""
    Job.objects.filter(pk=job.pk).update(resume_at=until)
    while (left := (until - now()).total_seconds()) > 0:
        if ends is not None and time.monotonic() + left > ends:
            return False
        sleep(min(left, REST_SLICE_SECONDS))
        current = Job.objects.filter(pk=job.pk).values("cancel_requested", "owner").get()
        if current["owner"] != worker_id:
            raise LeaseLost
        if current["cancel_requested"]:
            return True
    Job.objects.filter(pk=job.pk, resume_at=until).update(resume_at=None)
    return True


def _stop_and_finish(job: Job, stop: _Stop, worker_id: str) -> None:
    # One transaction: nobody sees the stop's event on a job still marked running.
    with transaction.atomic():
        _stop(job, stop, worker_id)
        _finish(job, worker_id)


def _stop(job: Job, stop: _Stop, worker_id: str) -> None:
    """Nothing more is sent: every item not yet sent is recorded as not sent, and why."""
    detail = f"Not sent: {stop.reason}"
    with transaction.atomic():
        _lock(job, worker_id)
        if Job.objects.filter(pk=job.pk).exclude(stop_reason="").exists():
            return  # already stopped (by whoever stopped it first)
        written = job.items_written
        unsent = OperationItem.objects.filter(
            operation_id=job.pk, position__lt=written, outcome=ItemOutcome.PENDING
        ).update(outcome=ItemOutcome.NOT_SENT, detail=detail)
        if written < job.total:
            identifiers = unwritten_identifiers(job, written, job.total - 1)
            unsent += operation_add_items(
                job.operation,
                identifiers,
                first_position=written,
                outcome=ItemOutcome.NOT_SENT,
                detail=detail,
            )
        Job.objects.filter(pk=job.pk).update(
            not_sent=F("not_sent") + unsent,
            stop_reason=stop.reason,
            cancelled=stop.cancelled,
            items_written=job.total,
        )
        Chunk.objects.filter(job=job, status__in=OPEN_CHUNKS).update(status=ChunkStatus.NOT_SENT)
        if stop.cancelled:  # recorded here, asked for by a person: the event names them
            job.refresh_from_db(fields=["cancel_requested_by"])
            operation_event(
                job.operation,
                EventKind.CANCELLED,
                actor=job.cancel_requested_by,
                detail=f"{unsent:,} not sent.",
            )
        else:
            operation_event(
                job.operation, EventKind.STOPPED, detail=f"{stop.reason} {unsent:,} not sent."
            )


def _finish(job: Job, worker_id: str, items: ItemsDigest | None = None) -> None:
    """Close the job and its operation once no chunk is open (exactly once)."""
    with transaction.atomic():
        _lock(job, worker_id)
        job.operation.refresh_from_db(fields=["status", "finished_at"])
        if job.is_finished or Chunk.objects.filter(job=job, status__in=OPEN_CHUNKS).exists():
            return
        row = Job.objects.get(pk=job.pk)
        refused = _refused_counts(row)
        counts = _outcome_counts(row, refused)
        if row.cancelled:
            status = OperationStatus.CANCELLED
        elif row.stop_reason:
            status = OperationStatus.STOPPED
        else:
            status = status_from_outcomes(counts)
        summary = _summary(row, status, refused)
        if not row.stop_reason:  # (a stop wrote its own event)
            operation_event(job.operation, EventKind.FINISHED, detail=summary)
        operation_finish(
            job.operation, status=status, summary=summary, outcome_counts=counts, items=items
        )


def _refused_counts(job: Job) -> dict[str, int]:
    """Items refused before sending, by outcome: invalid rows, leads no longer blocked.
    They sit after the positions the job sends."""
    refused = (
        OperationItem.objects.filter(operation_id=job.pk, position__gte=job.total)
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return dict(refused)


def _outcome_counts(job: Job, refused: dict[str, int]) -> dict[str, int]:
    """The job's tally (kept as it went), plus the items refused before sending."""
    done = ItemOutcome.REMOVED if job.provider == Provider.WOODPECKER else ItemOutcome.UNBLOCKED
    counts = Counter(
        {
            done: job.done,
            ItemOutcome.NOT_LISTED: job.not_listed,
            ItemOutcome.GONE: job.gone,
            ItemOutcome.FAILED: job.failed,
            ItemOutcome.UNKNOWN: job.unknown,
            ItemOutcome.NOT_SENT: job.not_sent,
        }
    )
    counts.update(refused)
    return dict(counts)


def _summary(job: Job, status: str, refused: dict[str, int]) -> str:
    one = job.total == 1
    if job.provider == Provider.WOODPECKER:
        things = "address" if one else "addresses"
        done_words, not_listed_words = "removed", "were not on the list"
    else:
        things = "lead" if one else "leads"
        done_words, not_listed_words = "unblocked", "were not blocked"
    parts = [f"{job.done:,} {done_words}"]
    for count, words in (
        (job.not_listed, not_listed_words),
        (job.gone, "off the list (checked by look-up)"),
        (job.failed, "failed"),
        (job.unknown, "unknown"),
        (job.not_sent, "not sent"),
    ):
        if count:
            parts.append(f"{count:,} {words}")
    text = f"{job.total:,} {things}: " + ", ".join(parts) + "."
    if invalid := refused.get(ItemOutcome.INVALID, 0):
        text += f" {invalid:,} unusable row{'s' if invalid != 1 else ''} in the file, not sent."
    if missing := refused.get(ItemOutcome.NOT_SENT, 0):
        text += f" {missing:,} no longer on the blocked list, not sent."
    if job.stop_reason:
        stopped = "Cancelled" if status == OperationStatus.CANCELLED else "Stopped"
        text += f" {stopped}: {job.stop_reason}"
    return text


def _cancel_reason(job: Job) -> str:
    job.refresh_from_db(fields=["cancel_requested_by"])
    who = job.cancel_requested_by.get_username() if job.cancel_requested_by else "an operator"
    return f"Cancelled by {who}."


def _verb(job: Job) -> str:
    return "remove" if job.provider == Provider.WOODPECKER else "unblock"


def _lock(job: Job, worker_id: str) -> None:
    """Inside a transaction: lock the job's row, refresh what others change on it, and make
    sure this worker still holds it."""
    owner, job.cancel_requested, job.cancel_requested_by_id, job.resume_at, job.items_written = (
        Job.objects.select_for_update()
        .values_list(
            "owner", "cancel_requested", "cancel_requested_by", "resume_at", "items_written"
        )
        .get(pk=job.pk)
    )
    if owner != worker_id:
        raise LeaseLost


def _load(job_id: int) -> Job:
    return Job.objects.select_related("operation").get(pk=job_id)


# -- leases ------------------------------------------------------------------------------------


def lease_take(
    job: Job, worker_id: str, *, announce: bool = True, seconds: float | None = None
) -> bool:
    """Take the job for ``worker_id``: free, already its own, or its runner's lease ran out.

    A live runner renews its lease every few seconds (jobs.workers), so one that ran out
    belongs to a runner that died: its chunk in flight is settled by look-up.
    """
    moment = now()
    previous = Job.objects.filter(pk=job.pk).values_list("owner", flat=True).get()
    taken = (
        Job.objects.filter(pk=job.pk, operation__finished_at__isnull=True)
        .filter(Q(owner="") | Q(owner=worker_id) | Q(lease_expires_at__lt=moment))
        .update(
            owner=worker_id,
            lease_expires_at=moment + timedelta(seconds=seconds or settings.JOB_LEASE_SECONDS),
            waiting_note="",
        )
    )
    if not taken:
        return False
    Worker.objects.filter(pk=worker_id).update(job=job)
    if announce and previous and previous != worker_id:
        operation_event(
            job.operation,
            EventKind.RESUMED,
            detail=f"Taken over by worker {worker_id}: worker {previous} had stopped.",
        )
    return True


def lease_release(job: Job, worker_id: str, *, next_try: datetime | None = None) -> None:
    """Let the job go. Until ``next_try`` no worker picks it up again by itself."""
    Job.objects.filter(pk=job.pk, owner=worker_id).update(
        owner="", lease_expires_at=next_try or now()
    )
    Worker.objects.filter(pk=worker_id, job=job).update(job=None)


def job_stop_unowned(job: Job, *, worker_id: str) -> bool:
    """Record a cancelled job's stop without a provider, if nothing of it can be out.

    For a cancel while no worker holds the job: with no chunk in flight, stopping needs no
    look-up, so it need not wait for a worker. False if the job is held or has a chunk in
    flight (then its runner, or the next one, records the stop). No heartbeat renews this
    caller's lease: it takes a long one, and a stop is recorded once whoever records it.
    """
    in_flight = Chunk.objects.filter(job=job, status=ChunkStatus.IN_FLIGHT)
    if in_flight.exists() or not lease_take(job, worker_id, announce=False, seconds=120):
        return False
    try:
        if in_flight.exists():
            return False
        job = _load(job.pk)
        with transaction.atomic():
            _lock(job, worker_id)
            if not job.cancel_requested:
                return False
        _stop_and_finish(job, _Stop(_cancel_reason(job), cancelled=True), worker_id)
        return True
    except LeaseLost:
        return False
    finally:
        lease_release(job, worker_id)
