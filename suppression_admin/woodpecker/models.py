"""Bulk removal from Woodpecker's blacklist: a checked upload, then a checkpointed job.

The addresses and per-address outcomes live in the audit (OperationItem rows of the job's
operation); a chunk is a range of item positions, so the job itself stores only progress.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from suppression_admin.audit.models import Operation


class DraftSource(models.TextChoices):
    FILE = "file", "Uploaded file"
    PASTE = "paste", "Pasted list"
    SELECTION = "selection", "Selected on the blacklist page"


class RemovalDraft(models.Model):
    """What an operator uploaded or pasted, read and checked, awaiting confirmation.

    The file itself is not kept: only its name, size, hash and the addresses read from it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=DraftSource.choices)
    filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    column_label = models.CharField(max_length=200, blank=True)
    rows = models.PositiveIntegerField(default=0)
    valid_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    # Newline-separated normalised addresses, in file order.
    emails = models.TextField(blank=True)
    # The unused rows as CSV (row, value, reason), for the downloadable report.
    unused_csv = models.TextField(blank=True)
    # The invalid ones as [row, value, reason]: the job records them as invalid items.
    invalid_rows = models.JSONField(default=list, blank=True)
    # The blacklist look-up done for the preview; None until it has run.
    blacklisted_count = models.PositiveIntegerField(null=True, blank=True)
    lookup_checked = models.PositiveIntegerField(default=0)
    lookup_error = models.TextField(blank=True)

    # Up to tens of megabytes each: pages that poll leave them out.
    BULK_FIELDS = ("emails", "unused_csv", "invalid_rows")

    def __str__(self) -> str:
        return f"{self.filename or 'pasted list'} ({self.valid_count} addresses)"

    def email_list(self) -> list[str]:
        return self.emails.split("\n") if self.emails else []


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Done"
    PARTIAL = "partial", "Done, with problems"
    FAILED = "failed", "Stopped"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (
    JobStatus.SUCCEEDED,
    JobStatus.PARTIAL,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)


class RemovalJob(models.Model):
    # One draft, one job: confirming the same preview twice finds this job.
    draft = models.OneToOneField(RemovalDraft, on_delete=models.PROTECT, related_name="job")
    operation = models.OneToOneField(
        Operation, on_delete=models.PROTECT, related_name="removal_job"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # Which Woodpecker account (a hash of its key, never the key).
    key_fingerprint = models.CharField(max_length=16)
    total = models.PositiveIntegerField()
    prepared = models.BooleanField(default=False)
    # The audit items are written a little ahead of the requests (always before them):
    # positions below this one exist.
    items_written = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # Woodpecker asked us to wait (429/503, Retry-After): no worker sends for the job before.
    resume_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.TextField(blank=True)
    # Progress counters, advanced once per finished chunk.
    removed = models.PositiveIntegerField(default=0)
    not_listed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    not_sent = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Removal job #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def resting(self) -> bool:
        """Waiting because Woodpecker asked us to (429/503 with Retry-After)."""
        return not self.is_finished and bool(self.resume_at and self.resume_at > timezone.now())

    @property
    def processed(self) -> int:
        return self.removed + self.not_listed + self.failed + self.unknown + self.not_sent

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 100

    @property
    def seconds_left(self) -> int | None:
        """A straight-line estimate from the pace so far; None before there is a pace."""
        if self.is_finished or not self.started_at or not self.processed:
            return None
        elapsed = (timezone.now() - self.started_at).total_seconds()
        return int(elapsed / self.processed * (self.total - self.processed))


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    DONE = "done", "Done"
    NOT_SENT = "not_sent", "Not sent"


# Not yet finished: waiting to be sent (again), or out.
OPEN_CHUNK_STATUSES = (ChunkStatus.PENDING, ChunkStatus.IN_FLIGHT)


class RemovalChunk(models.Model):
    """Up to 500 consecutive items of the job: the unit that is sent and checkpointed."""

    job = models.ForeignKey(RemovalJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_position = models.PositiveIntegerField()
    last_position = models.PositiveIntegerField()
    status = models.CharField(
        max_length=20, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="chunk_index_unique")]
        indexes = [models.Index(fields=["job", "status", "index"])]

    def __str__(self) -> str:
        return f"chunk {self.index} of job {self.job_id}"
