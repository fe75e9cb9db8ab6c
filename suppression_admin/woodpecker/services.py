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
from django.db import transaction

from suppression_admin.audit.csv_export import neutralise
from suppression_admin.audit.models import Action, OperationItem, Provider, Source
from suppression_admin.audit.services import operation_add_invalid_items, operation_start
from suppression_admin.connections import woodpecker_client, woodpecker_endpoint
from suppression_admin.jobs.models import RETRIED_OUTCOMES, Job
from suppression_admin.jobs.services import RetryRefused, job_create, job_retry_check
from suppression_admin.keys.lock import key_fingerprint
from suppression_admin.outside_text import safe_text
from suppression_admin.woodpecker.ingest import (
    IngestResult,
    Limits,
    UnusedRow,
    ingest_pasted,
    ingest_upload,
)
from suppression_admin.woodpecker.models import DraftSource, RemovalDraft
from suppression_admin.woodpecker.tasks import lookup_draft

logger = logging.getLogger(__name__)

REASON_REQUIRED = "Give a reason for the removal: it goes into the audit log."
NOTHING_VALID = "There is no valid address to remove."
ALREADY_STARTED = "This preview was already confirmed; here is its job."
NOTHING_TO_RETRY = "This job has no address left to retry."


DRAFT_TO_AUDIT_SOURCE = {
    DraftSource.FILE: Source.FILE,
    DraftSource.PASTE: Source.PASTE,
    DraftSource.SELECTION: Source.WEB,
    DraftSource.RETRY: Source.RETRY,
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
    *,
    actor: AbstractBaseUser,
    data: BinaryIO,
    filename: str,
    column: int | None = None,
    sheet: int | None = None,
) -> RemovalDraft:
    """Read an uploaded file into a draft and start its blacklist look-up.

    Raises IngestRefused (ColumnChoiceNeeded when the operator must pick the column).
    """
    result = ingest_upload(
        data, filename=filename, limits=upload_limits(), column=column, sheet=sheet
    )
    digest, size = file_sha256(data)
    name = safe_text(filename)[:255]
    draft = draft_create(actor=actor, result=result, file=FileFacts(name, size, sha256=digest))
    schedule_lookup(draft)
    return draft


def draft_from_paste(
    *, actor: AbstractBaseUser, text: str, source: str = DraftSource.PASTE
) -> RemovalDraft:
    """Read pasted (or selected) addresses into a draft and start its blacklist look-up."""
    result = ingest_pasted(text, limits=upload_limits())
    draft = draft_create(actor=actor, result=result, source=source)
    schedule_lookup(draft)
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


def schedule_lookup(draft: RemovalDraft) -> None:
    if not draft.valid_count:
        return

    transaction.on_commit(lambda: lookup_draft.enqueue(str(draft.pk)))


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
        writer.writerow([row.row, neutralise(row.value), neutralise(row.reason)])
    return buffer.getvalue()


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
) -> Job:
    """Record the operation and its job, and queue it. Confirming a draft twice returns
    its job (and sends nothing again).

    The invalid rows are recorded at once, as invalid items after the valid addresses'
    positions; the addresses themselves are written by the job, ahead of its requests (a
    million rows do not belong in a web request). ``schedule=False`` leaves running it to
    the caller (a command runs it in its own process).

    Raises RemovalRequestInvalid, or ProviderNotConfigured when Woodpecker has no key.
    """
    if draft.job_id is not None:
        return draft.job
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
    if draft.retry_of_id:
        source_detail["retry_of"] = draft.retry_of_id
    with transaction.atomic():
        locked = RemovalDraft.objects.select_for_update().only("job").get(pk=draft.pk)
        if locked.job_id is not None:
            # Two confirmations of one draft raced; the other created the job.
            return locked.job
        operation, _ = operation_start(
            provider=Provider.WOODPECKER,
            action=Action.REMOVE,
            actor=actor,
            reason=reason,
            ticket=ticket.strip(),
            source=source or DRAFT_TO_AUDIT_SOURCE[draft.source],
            source_detail=source_detail,
            items=[],
            client_ip=client_ip,
            user_agent=user_agent,
        )
        invalid_rows = RemovalDraft.objects.values_list("invalid_rows", flat=True).get(pk=draft.pk)
        operation_add_invalid_items(
            operation,
            ((value, f"Row {row}: {reason}; not sent.") for row, value, reason in invalid_rows),
            first_position=draft.valid_count,
        )
        try:
            job = job_create(
                operation=operation,
                actor=actor,
                key_fingerprint=key_fingerprint(endpoint.api_key),
                total=draft.valid_count,
                retry_of=draft.retry_of,
                schedule=schedule,
            )
        except RetryRefused as refused:
            raise RemovalRequestInvalid(str(refused)) from refused
        RemovalDraft.objects.filter(pk=draft.pk).update(job=job)
    draft.job = job
    return job


def draft_for_retry(*, actor: AbstractBaseUser, job: Job) -> RemovalDraft:
    """A draft of the addresses ``job`` did not send or could not settle, to confirm again.

    Raises RemovalRequestInvalid when it cannot be retried (nothing left, or retried already).
    """
    try:
        job_retry_check(job)
    except RetryRefused as refused:
        raise RemovalRequestInvalid(str(refused)) from refused
    emails = list(
        OperationItem.objects.filter(
            operation_id=job.pk,
            position__lt=job.total,
            outcome__in=RETRIED_OUTCOMES,
        )
        .order_by("position")
        .values_list("identifier", flat=True)
    )
    if not emails:
        raise RemovalRequestInvalid(NOTHING_TO_RETRY)
    draft = RemovalDraft.objects.create(
        created_by=actor,
        source=DraftSource.RETRY,
        rows=len(emails),
        valid_count=len(emails),
        emails="\n".join(emails),
        unused_csv=unused_rows_csv([]),
        retry_of=job,
    )
    schedule_lookup(draft)
    return draft


def email_on_blacklist(email: str) -> bool:
    """Whether Woodpecker's blacklist holds ``email`` now (a read: nothing is audited).

    Raises ProviderError (ProviderNotConfigured included), or ValueError for an address the
    blacklist filter would read as several or as a pattern.
    """
    if "," in email or "*" in email:
        raise ValueError("An address with a comma or an asterisk cannot be looked up exactly.")
    client = woodpecker_client()
    try:
        page = client.list_page(page=0, per_page=50, email_filter=email)
    finally:
        client.close()
    return any(listed.lower() == email.lower() for listed in page.emails)
