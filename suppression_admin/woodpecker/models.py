"""Bulk removal from Woodpecker's blacklist: a checked upload, awaiting confirmation.

Once confirmed, a draft's addresses are removed by a background job (jobs.Job); the draft
keeps the address list the job reads them from.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from suppression_admin.jobs.models import Job


class DraftSource(models.TextChoices):
    FILE = "file", "Uploaded file"
    PASTE = "paste", "Pasted list"
    SELECTION = "selection", "Selected on the blacklist page"
    RETRY = "retry", "Not sent by an earlier job"


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
    column_label = models.TextField(blank=True)  # names a header and a sheet: unbounded
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
    # Which of the addresses it found there (newline-separated, in file order).
    blacklisted_emails = models.TextField(blank=True)
    lookup_checked = models.PositiveIntegerField(default=0)
    lookup_error = models.TextField(blank=True)
    # One draft, one job: confirming the same preview twice finds this job.
    job = models.OneToOneField(
        Job, on_delete=models.PROTECT, null=True, blank=True, related_name="removal_draft"
    )
    # A draft of the addresses an earlier job did not send (or could not settle).
    retry_of = models.ForeignKey(
        Job, on_delete=models.PROTECT, null=True, blank=True, related_name="retry_drafts"
    )

    # When the retention purge emptied the address lists (the job had ended; the audit
    # keeps what was sent). See woodpecker.retention.
    purged_at = models.DateTimeField(null=True, blank=True)

    # Up to tens of megabytes each: pages that poll leave them out.
    BULK_FIELDS = ("emails", "unused_csv", "invalid_rows", "blacklisted_emails")

    def __str__(self) -> str:
        return f"{self.filename or 'pasted list'} ({self.valid_count} addresses)"

    def email_list(self) -> list[str]:
        return self.emails.split("\n") if self.emails else []


class ReadingStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    READING = "reading", "Reading"
    CHOOSE = "choose", "Waiting for a column to be chosen"
    DONE = "done", "Read"
    REFUSED = "refused", "Refused"


class UploadReading(models.Model):
    """An upload too slow to read inside the web request (a large workbook), read by a
    worker with progress; it ends as a draft, a refusal, or a question (which column).

    The file is kept here — in the database, so a worker on another host can read it —
    only until it has been read; see woodpecker.reading.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)
    filename = models.TextField(blank=True)
    content = models.BinaryField(blank=True)
    status = models.CharField(
        max_length=10, choices=ReadingStatus.choices, default=ReadingStatus.QUEUED
    )
    # Each run takes the next attempt number; a run that finds another took over stops.
    attempt = models.PositiveIntegerField(default=0)
    # Progress: a worker touches the row as it goes, and a silent one is taken over.
    touched_at = models.DateTimeField(default=timezone.now)
    phase = models.CharField(max_length=100, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    # The operator's answer to a column question (0-based), for the next run.
    sheet = models.PositiveIntegerField(null=True, blank=True)
    column = models.PositiveIntegerField(null=True, blank=True)
    # The question: ColumnChoiceNeeded's message and candidates [choice, label, samples].
    question = models.TextField(blank=True)
    candidates = models.JSONField(default=list, blank=True)
    refusal = models.TextField(blank=True)
    draft = models.OneToOneField(
        RemovalDraft, on_delete=models.SET_NULL, null=True, blank=True, related_name="reading"
    )

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"
