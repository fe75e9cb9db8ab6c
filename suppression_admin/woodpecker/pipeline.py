"""Sending a job's fresh chunks back to back, never more than one request in flight.

Woodpecker takes one request at a time, so a job's speed is set by the gap between an
answer and the next request. The writing is therefore done while a request is out
(providers.waiting): the previous chunk's answer and outcomes, then the next chunk's audit
items and its claim. Between an answer and the next request there is only the next call
row, written by a statement that also checks for a cancel, so every request is still in
the audit before it is sent.
"""

import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

from django.db.models import QuerySet

from suppression_admin.audit.models import ProviderCall
from suppression_admin.audit.services import AuditCallLog, CallRefused
from suppression_admin.providers.errors import ProviderError
from suppression_admin.providers.waiting import WaitingWork
from suppression_admin.providers.woodpecker import WoodpeckerClient
from suppression_admin.woodpecker.chunks import (
    ChunkRecord,
    chunk_claim_fresh,
    chunk_release,
    items_write_ahead,
)
from suppression_admin.woodpecker.models import RemovalChunk, RemovalJob

logger = logging.getLogger(__name__)


@dataclass
class Flight:
    """A chunk's request and its answer, recorded while the next request is out."""

    chunk: RemovalChunk
    pending: list[str]
    call: ProviderCall
    answer: dict
    removed: list[str] | None
    error: ProviderError | None

    recorded: bool = False

    def record(self, job: RemovalJob, call_log: AuditCallLog) -> None:
        call_log.finished(self.call, **self.answer)
        if self.error is None:
            ChunkRecord(job, self.chunk).answered(self.pending, self.removed or [], self.call)
        self.recorded = True


class _AnswerLater:
    """The client's call log while pipelining.

    The call row is written before the request, as always; the answer is only kept here
    (``finished`` writes nothing): the pipeline writes it while the next request is out, or
    at once if the run ends or fails.
    """

    def __init__(self, log: AuditCallLog, *, unless: QuerySet) -> None:
        self._log = log
        self._unless = unless
        self.call: ProviderCall | None = None
        self.answer: dict = {}

    def started(self, **request) -> ProviderCall:
        self.call = self._log.started(**request, unless=self._unless)
        return self.call

    def finished(self, handle: object, **answer) -> None:
        self.answer = answer


class Pipeline:
    def __init__(
        self,
        job: RemovalJob,
        emails: list[str],
        client: WoodpeckerClient,
        call_log: AuditCallLog,
    ) -> None:
        self.job = job
        self.emails = emails
        self.client = client
        self.call_log = call_log
        # Whether a cancel cut the run short (its call row refused, or a chunk it closed),
        # or a stop closed the chunks.
        self.cancelled = False
        # Checked in the statement that writes each request's call row: a cancel either came
        # first (nothing is written or sent) or comes after (the chunk is in flight).
        self._job_cancelled = RemovalJob.objects.filter(pk=job.pk, cancel_requested=True)

    def run(self, fresh: list[RemovalChunk], turn_ends: float) -> Flight | None:
        """Send the fresh chunks in order until none is left, the turn ends or one fails.

        The caller holds the key's lock. Returns the failed flight, its answer recorded and
        its chunk still in flight, for the careful path to settle; None otherwise. Every
        answered chunk is recorded before this returns.
        """
        items_write_ahead(self.job, self.emails, fresh[0].last_position + 1)
        chunk = self._claim(fresh[0])  # claimed, not yet sent
        following = iter(fresh[1:])
        unrecorded: Flight | None = None  # answered; recorded while the next one is out
        current: Flight | None = None
        meanwhile: WaitingWork | None = None
        try:
            while chunk is not None:
                after = next(following, None) if time.monotonic() < turn_ends else None
                meanwhile = WaitingWork(partial(self._meanwhile, unrecorded, after))
                sending, chunk, current = chunk, None, None
                current = self._send(sending, meanwhile)
                if current is None:  # cancelled before it went out
                    chunk_release(sending)
                    self.cancelled = True
                    break
                chunk = meanwhile.finish()
                if current.error is not None:
                    if chunk is not None:
                        chunk_release(chunk)
                    current.record(self.job, self.call_log)
                    return current
                unrecorded = current
        except BaseException:
            # A crash of ours: keep the answers in hand, give back the claims never sent.
            for flight in (unrecorded, current):
                if flight is not None and not flight.recorded:
                    self._record_despite_the_crash(flight)
            for unsent in (chunk, meanwhile.result if meanwhile else None):
                if isinstance(unsent, RemovalChunk):
                    with suppress(Exception):
                        chunk_release(unsent)
            raise
        if unrecorded is not None:
            unrecorded.record(self.job, self.call_log)
        return None

    def _record_despite_the_crash(self, flight: Flight) -> None:
        try:
            flight.record(self.job, self.call_log)
        except Exception:
            logger.exception("Could not record chunk %s's answer", flight.chunk.index + 1)

    def _send(self, chunk: RemovalChunk, meanwhile: WaitingWork) -> Flight | None:
        """Send the chunk; None if a cancel came first and nothing was sent."""
        pending = self.emails[chunk.first_position : chunk.last_position + 1]
        log = _AnswerLater(self.call_log, unless=self._job_cancelled)
        self.call_log.purpose = f"remove chunk {chunk.index + 1}"
        self.call_log.batch = chunk.index
        self.client.call_log = log
        try:
            removed, error = self.client.remove(pending, while_out=meanwhile), None
        except ProviderError as failure:
            removed, error = None, failure
        except CallRefused:
            return None
        except BaseException:
            if log.call is not None and log.answer:  # "Interrupted: ...", as the client says
                self.call_log.finished(log.call, **log.answer)
            raise
        finally:
            self.client.call_log = self.call_log
        assert log.call is not None  # a ProviderError comes only after the call row
        return Flight(chunk, pending, log.call, log.answer, removed, error)

    def _meanwhile(
        self, unrecorded: Flight | None, after: RemovalChunk | None
    ) -> RemovalChunk | None:
        """The work done while a request is out. Returns the next chunk, claimed, or None."""
        if unrecorded is not None:
            unrecorded.record(self.job, self.call_log)
        if after is None:
            return None
        items_write_ahead(self.job, self.emails, after.last_position + 1)
        return self._claim(after)

    def _claim(self, chunk: RemovalChunk) -> RemovalChunk | None:
        if chunk_claim_fresh(chunk):
            return chunk
        self.cancelled = True  # closed by a cancel (or a stop): nothing more goes out
        return None
