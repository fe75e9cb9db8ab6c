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
    BULK_FIELDS = ("emails", "unused_csv", "invalid_rows")

    def __str__(self) -> str:
        return f"{self.filename or 'pasted list'} ({self.valid_count} addresses)"

    def email_list(self) -> list[str]:
        return self.emails.split("\n") if self.emails else []
