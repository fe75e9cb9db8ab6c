"""Woodpecker bulk removal use cases: check an upload, preview its effect, start, cancel.

The removal itself runs in the background (woodpecker.jobs); these functions only record
and schedule, so a web request never waits on Woodpecker's one-request-at-a-time queue.
"""

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F

from suppression_admin.audit.csv_export import neutralise
from suppression_admin.audit.models import Action, Provider, Source
from suppression_admin.audit.services import operation_start
from suppression_admin.connections import woodpecker_client, woodpecker_endpoint
from suppression_admin.providers.errors import ProviderError
from suppression_admin.providers.woodpecker import MAX_PER_PAGE, BlacklistPage, WoodpeckerClient
from suppression_admin.woodpecker.ingest import (
    IngestResult,
    Limits,
    UnusedRow,
    ingest_pasted,
    ingest_upload,
)
from suppression_admin.woodpecker.keylock import KeyBusy, key_fingerprint
from suppression_admin.woodpecker.models import (
    FINISHED_STATUSES,
    ChunkStatus,
    DraftSource,
    RemovalChunk,
    RemovalDraft,
    RemovalJob,
)

logger = logging.getLogger(__name__)

REASON_REQUIRED = "Give a reason for the removal: it goes into the audit log."
NOTHING_VALID = "There is no valid address to remove."
ALREADY_STARTED = "This preview was already confirmed; here is its job."


DRAFT_TO_AUDIT_SOURCE = {
    DraftSource.FILE: Source.FILE,
    DraftSource.PASTE: Source.PASTE,
    DraftSource.SELECTION: Source.WEB,
}


class RemovalRequestInvalid(ValueError):
    """The removal cannot start as asked; the message says why."""


@dataclass(frozen=True)
class FileFacts:
    name: str
    size: int
    sha256: str


def upload_limits() -> Limits:
    return Limits(
        max_bytes=settings.WOODPECKER_UPLOAD_MAX_BYTES,
        max_rows=settings.WOODPECKER_UPLOAD_MAX_ROWS,
    )


def draft_from_upload(
    *, actor: AbstractBaseUser, data: BinaryIO, filename: str, column: int | None = None
) -> RemovalDraft:
    """Read an uploaded file into a draft and start its blacklist look-up.

    Raises IngestRefused (ColumnChoiceNeeded when the operator must pick the column).
    """
    result = ingest_upload(data, filename=filename, limits=upload_limits(), column=column)
    digest, size = file_sha256(data)
    draft = draft_create(
        actor=actor, result=result, file=FileFacts(name=filename, size=size, sha256=digest)
    )
    _schedule_lookup(draft)
    return draft


def draft_from_paste(
    *, actor: AbstractBaseUser, text: str, source: str = DraftSource.PASTE
) -> RemovalDraft:
    """Read pasted (or selected) addresses into a draft and start its blacklist look-up."""
    result = ingest_pasted(text, limits=upload_limits())
    draft = draft_create(actor=actor, result=result, source=source)
    _schedule_lookup(draft)
    return draft


def file_sha256(data: BinaryIO) -> tuple[str, int]:
    """The SHA-256 and size of a file, read in chunks."""
    data.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := data.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _schedule_lookup(draft: RemovalDraft) -> None:
    if not draft.valid_count:
        return

    def enqueue() -> None:
        from suppression_admin.woodpecker.tasks import lookup_draft

        lookup_draft.enqueue(str(draft.pk))

    transaction.on_commit(enqueue)


def draft_create(
    *,
    actor: AbstractBaseUser,
    result: IngestResult,
    file: FileFacts | None = None,
    source: str = DraftSource.PASTE,
) -> RemovalDraft:
    """Keep what was read from an upload (or a paste) until the operator confirms it."""
    return RemovalDraft.objects.create(
        created_by=actor,
        source=DraftSource.FILE if file else source,
        filename=file.name if file else "",
        size_bytes=file.size if file else 0,
        sha256=file.sha256 if file else "",
        column_label=result.column_label,
        rows=result.rows,
        valid_count=len(result.valid),
        invalid_count=len(result.invalid),
        duplicate_count=len(result.duplicates),
        emails="\n".join(result.valid),
        unused_csv=unused_rows_csv([*result.invalid, *result.duplicates]),
        invalid_rows=[[row.row, row.value, row.reason] for row in result.invalid],
    )


def unused_rows_csv(rows: list[UnusedRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "value", "reason"])
    for row in sorted(rows, key=lambda unused: unused.row):
        writer.writerow([row.row, neutralise(row.value), row.reason])
    return buffer.getvalue()


def draft_lookup_blacklisted(draft: RemovalDraft) -> None:
    """Count how many of the draft's addresses are on the blacklist now, with progress.

    Looks the addresses up with ``email_filter`` in URL-length-safe batches (about 100
    addresses each) — or, when the whole blacklist takes fewer requests to read than that,
    reads it page by page and compares: a 100,000-address upload against a 20,000-address
    blacklist is then 40 requests instead of 1,000. Each request takes its turn on the key
    like every other Woodpecker request.
    """
    emails = draft.email_list()
    RemovalDraft.objects.filter(pk=draft.pk).update(
        lookup_checked=0, blacklisted_count=None, lookup_error=""
    )
    client = woodpecker_client()
    try:
        batches = list(client.lookup_batches(emails))
        first_page = client.list_page(page=0) if len(batches) > 1 else None
        if first_page is not None and _pages(first_page.total) < len(batches):
            found = _count_by_reading_the_blacklist(draft, client, set(emails), first_page)
        else:
            found = _count_by_email_filter(draft, client, batches)
    except (ProviderError, KeyBusy) as error:
        RemovalDraft.objects.filter(pk=draft.pk).update(lookup_error=str(error))
        return
    finally:
        client.close()
    RemovalDraft.objects.filter(pk=draft.pk).update(
        blacklisted_count=found, lookup_checked=draft.valid_count
    )


def _pages(total: int) -> int:
    return -(-total // MAX_PER_PAGE)


def _count_by_email_filter(
    draft: RemovalDraft, client: WoodpeckerClient, batches: list[list[str]]
) -> int:
    found = 0
    for batch in batches:
        found += len(client.lookup(batch))
        RemovalDraft.objects.filter(pk=draft.pk).update(
            lookup_checked=F("lookup_checked") + len(batch)
        )
    return found


def _count_by_reading_the_blacklist(
    draft: RemovalDraft, client: WoodpeckerClient, wanted: set[str], first_page: BlacklistPage
) -> int:
    # The blacklist may change while it is read; a set counts an address once even if a
    # shifted page shows it twice.
    found: set[str] = set()
    pages = _pages(first_page.total)
    page, listed = 0, first_page
    while True:
        found.update(email.lower() for email in listed.emails if email.lower() in wanted)
        page += 1
        RemovalDraft.objects.filter(pk=draft.pk).update(
            lookup_checked=min(draft.valid_count * page // max(pages, 1), draft.valid_count)
        )
        if page >= pages or not listed.emails:
            return len(found)
        listed = client.list_page(page=page)


def removal_job_start(
    *,
    actor: AbstractBaseUser,
    draft: RemovalDraft,
    reason: str,
    ticket: str = "",
    client_ip: str | None = None,
    user_agent: str = "",
    source: str | None = None,
    schedule: bool = True,
) -> RemovalJob:
    """Record the operation and schedule the job. Confirming a draft twice returns its job.

    ``schedule=False`` leaves running it to the caller (the CLI runs it in-process; if that
    process dies, ``removal_jobs_recover`` hands the job to a worker).

    Raises RemovalRequestInvalid, or ProviderNotConfigured when Woodpecker has no key.
    """
    existing = RemovalJob.objects.filter(draft=draft).first()
    if existing is not None:
        return existing
    reason = reason.strip()
    if not reason:
        raise RemovalRequestInvalid(REASON_REQUIRED)
    if not draft.valid_count:
        raise RemovalRequestInvalid(NOTHING_VALID)
    endpoint = woodpecker_endpoint()
    source_detail = {"rows": draft.rows, "valid": draft.valid_count}
    if draft.source == DraftSource.FILE:
        source_detail |= {
            "file_name": draft.filename,
            "file_size": draft.size_bytes,
            "file_sha256": draft.sha256,
            "column": draft.column_label,
        }
    try:
        with transaction.atomic():
            operation, _ = operation_start(
                provider=Provider.WOODPECKER,
                action=Action.REMOVE,
                actor=actor,
                reason=reason,
                ticket=ticket.strip(),
                source=source or DRAFT_TO_AUDIT_SOURCE[draft.source],
                source_detail=source_detail,
                # Items are written by the job before its first request: a million rows
                # do not belong in a web request.
                items=[],
                client_ip=client_ip,
                user_agent=user_agent,
            )
            job = RemovalJob.objects.create(
                draft=draft,
                operation=operation,
                created_by=actor,
                key_fingerprint=key_fingerprint(endpoint.api_key),
                total=draft.valid_count,
            )
            if schedule:
                transaction.on_commit(lambda: removal_job_enqueue(job))
    except IntegrityError:
        # Two confirmations of one draft raced; the other created the job.
        return RemovalJob.objects.get(draft=draft)
    return job


def removal_job_enqueue(job: RemovalJob) -> None:
    from suppression_admin.woodpecker.tasks import run_removal_job

    run_removal_job.enqueue(job.pk)


def removal_job_cancel(job: RemovalJob) -> None:
    """Stop the job after the chunk in flight.

    Closes every chunk not yet sent, in one statement: a worker claims a chunk with a
    conditional update, so it either got the chunk before the cancel or finds it closed.
    The worker then records those addresses as not sent.
    """
    with transaction.atomic():
        cancelled = (
            RemovalJob.objects.filter(pk=job.pk)
            .exclude(status__in=FINISHED_STATUSES)
            .update(cancel_requested=True)
        )
        if cancelled:
            RemovalChunk.objects.filter(job=job, status=ChunkStatus.PENDING).update(
                status=ChunkStatus.NOT_SENT
            )
