"""Background jobs (a bulk unblock or removal, sent in chunks) and the workers that run them.

A job carries out one audit operation and shares its number: its primary key is the
operation's, and its status is the operation's status (one vocabulary). The leads or
addresses and their outcomes are the operation's items; a chunk is a range of item
positions, so the job itself stores only progress.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from suppression_admin.audit.models import ItemOutcome, Operation, OperationStatus, Provider

# What a retry sends again: refused (nothing changed), never sent, or never settled.
RETRIED_OUTCOMES = (ItemOutcome.FAILED, ItemOutcome.NOT_SENT, ItemOutcome.UNKNOWN)


class Job(models.Model):
    operation = models.OneToOneField(
        Operation, primary_key=True, on_delete=models.PROTECT, related_name="job"
    )
    provider = models.CharField(max_length=20, choices=Provider.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    # Which provider account (a hash of its key, never the key).
    key_fingerprint = models.CharField(max_length=16)
    # Items to send (invalid rows refused before sending are items too, but not counted).
    total = models.PositiveIntegerField()
    prepared = models.BooleanField(default=False)
    # Audit items are written a little ahead of the requests, always before them: the
    # positions below this one exist.
    items_written = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The provider asked us to wait (Retry-After), or its key is quiet: nothing is sent for
    # the job before this.
    resume_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.TextField(blank=True)
    # The stop came from a cancel (not from a refusal or a limit).
    cancelled = models.BooleanField(default=False)
    # Progress, advanced once per finished chunk. ``done``: removed or unblocked.
    done = models.PositiveIntegerField(default=0)
    not_listed = models.PositiveIntegerField(default=0)
    # Off the list after a lost answer (checked by look-up): removed by us, or never on it.
    gone = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    not_sent = models.PositiveIntegerField(default=0)
    progressed_at = models.DateTimeField(null=True, blank=True)
    # The worker running it, until its lease runs out (a live worker keeps renewing it).
    owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The task last enqueued to run it: not enqueued again while that one waits.
    task_id = models.CharField(max_length=64, blank=True)
    # Why a worker that looked at it could not run it (e.g. another account's key).
    waiting_note = models.TextField(blank=True)
    retry_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="retries"
    )

    class Meta:
        ordering = ["-operation_id"]
        indexes = [models.Index(fields=["lease_expires_at"])]

    def __str__(self) -> str:
        return f"Job #{self.pk}"

    @property
    def status(self) -> str:
        return self.operation.status

    def get_status_display(self) -> str:
        return self.operation.get_status_display()

    @property
    def is_finished(self) -> bool:
        return self.operation.finished_at is not None

    @property
    def is_queued(self) -> bool:
        return self.operation.status == OperationStatus.PENDING

    @property
    def resting(self) -> bool:
        return not self.is_finished and bool(self.resume_at and self.resume_at > timezone.now())

    @property
    def processed(self) -> int:
        return self.sent_or_settled + self.not_sent

    @property
    def sent_or_settled(self) -> int:
        """Items the provider was asked about (not the ones a stop left unsent)."""
        return self.done + self.not_listed + self.gone + self.failed + self.unknown

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 100

    @property
    def retryable(self) -> int:
        """How many items a retry would send again: failed (refused, nothing changed),
        not sent, or unknown."""
        if not self.is_finished:
            return 0
        return self.failed + self.not_sent + self.unknown


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    IN_FLIGHT = "in_flight", "Sent, answer not recorded"
    DONE = "done", "Done"
    NOT_SENT = "not_sent", "Not sent"


class Chunk(models.Model):
    """Consecutive items of a job sent in one request: the unit that is checkpointed."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_position = models.PositiveIntegerField()
    last_position = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # Look-ups to settle it that the provider refused for now (429, 503, no connection).
    look_ups_refused = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="job_chunk_index_unique")
        ]
        indexes = [models.Index(fields=["job", "status", "index"])]

    def __str__(self) -> str:
        return f"chunk {self.index + 1} of job #{self.job_id}"


class Worker(models.Model):
    """A worker process, as its heartbeat last described it."""

    id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # Providers it can run jobs for, and why not for the others.
    can_run = models.JSONField(default=list)
    cannot_run = models.JSONField(default=dict)
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"worker {self.hostname}:{self.pid}"
