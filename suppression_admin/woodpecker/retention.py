"""Personal data outside the audit is not kept forever.

After ``PERSONAL_DATA_RETENTION_DAYS``:
- a draft nobody confirmed is deleted, with its addresses and unused-row report;
- a confirmed draft whose job has ended keeps its counts and file facts, but its address
  lists are emptied (the audit keeps what was sent, and why). A job still running keeps
  its draft whole: it reads the addresses it has not written yet from it;
- an upload kept for a column choice the operator never made is deleted, and so is a
  workbook's reading (woodpecker.reading) with the file it may still hold.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from suppression_admin.woodpecker.kept_uploads import uploads_delete_older
from suppression_admin.woodpecker.models import RemovalDraft
from suppression_admin.woodpecker.reading import readings_forget_older


@dataclass(frozen=True)
class Purged:
    drafts_deleted: int
    drafts_emptied: int
    uploads_deleted: int
    readings_deleted: int


def personal_data_purge(*, days: int | None = None, now: datetime | None = None) -> Purged:
    days = settings.PERSONAL_DATA_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = RemovalDraft.objects.filter(created_at__lt=cutoff)
    deleted = old.filter(job__isnull=True).delete()[0]
    emptied = old.filter(
        job__isnull=False, job__operation__finished_at__isnull=False, purged_at__isnull=True
    ).update(
        emails="",
        unused_csv="",
        invalid_rows=[],
        blacklisted_emails="",
        purged_at=timezone.now(),
    )
    return Purged(deleted, emptied, uploads_delete_older(cutoff), readings_forget_older(cutoff))
