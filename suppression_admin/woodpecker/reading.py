"""Reading a large workbook off the web request, by a worker, with progress.

A workbook of a million rows takes about a minute to read (most of it inside openpyxl), far
too long for a web request. The upload is stored in an ``UploadReading`` row and a task
reads it; the operator's page polls the row and shows what is being done and how many rows
are read. The reading ends as a draft (then the preview), a refusal in words, or a question
— which sheet and column — whose answer queues it again.

What happens if the worker dies here? A running reading is touched every
``ALIVE_SECONDS`` by a thread of its run, so only a dead run falls silent: after
``READING_STALE_SECONDS`` any live worker's heartbeat puts it back in the queue
(``readings_rescue``) and the next run starts over — up to ``MAX_ATTEMPTS`` runs, then it
is refused in words (a file that kills its worker must not kill them all). A run claims a
queued reading by moving it to "reading" with the next attempt number, and writes its
progress and its ending only while that attempt is the row's: a duplicate task finds
nothing to claim, and a run overtaken by a later one stops without saving its draft (the
draft and the ending commit together). The file is emptied once read, and a reading never
finished is deleted by the retention purge.
"""

import io
import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.tasks import task
from django.utils import timezone

from suppression_admin.jobs.workers import Situation
from suppression_admin.outside_text import safe_text
from suppression_admin.woodpecker.ingest import ColumnChoiceNeeded, IngestRefused, ingest_upload
from suppression_admin.woodpecker.ingest.detect import looks_like_zip
from suppression_admin.woodpecker.models import ReadingStatus, UploadReading
from suppression_admin.woodpecker.services import (
    FileFacts,
    draft_create,
    file_sha256,
    schedule_lookup,
    upload_limits,
)

logger = logging.getLogger(__name__)

READING_STALE_SECONDS = 120
ALIVE_SECONDS = 15
MAX_ATTEMPTS = 3
GAVE_UP = (
    "Reading this workbook was started {attempts} times and never finished (the worker "
    "stopped each time, perhaps for lack of memory). Save the sheet with the addresses as "
    "“CSV UTF-8 (Comma delimited)” and upload that."
)
# Progress is written at most this often.
TOUCH_SECONDS = 1.0


class ReadingOvertaken(Exception):
    """A later run took this reading over: this run stops without writing anything."""


def reads_in_background(upload: UploadedFile) -> bool:
    """Whether this upload is a workbook large enough to be read by a worker."""
    if upload.size is None or upload.size < settings.WOODPECKER_BACKGROUND_READ_MIN_BYTES:
        return False
    upload.seek(0)
    is_zip = looks_like_zip(upload.read(4))
    upload.seek(0)
    return is_zip


def reading_start(*, actor: AbstractBaseUser, upload: UploadedFile) -> UploadReading:
    """Store the upload and queue its reading (after the transaction commits)."""
    upload.seek(0)
    reading = UploadReading.objects.create(
        created_by=actor,
        filename=safe_text(upload.name or "")[:255],
        content=b"".join(upload.chunks()),
    )
    _enqueue(reading)
    return reading


def reading_answer(reading: UploadReading, *, sheet: int | None, column: int) -> None:
    """The operator chose the column (and sheet) the question asked for: read again (a
    second answer to the same question changes nothing)."""
    answered = UploadReading.objects.filter(pk=reading.pk, status=ReadingStatus.CHOOSE).update(
        status=ReadingStatus.QUEUED,
        sheet=sheet,
        column=column,
        question="",
        candidates=[],
        phase="",
        rows_read=0,
        touched_at=timezone.now(),
    )
    if answered:
        _enqueue(reading)


def reading_run(reading_id: str) -> None:
    """Read the stored upload (the task's body): a draft, a refusal or a question."""
    claimed = UploadReading.objects.filter(pk=reading_id, status=ReadingStatus.QUEUED).update(
        status=ReadingStatus.READING, attempt=F("attempt") + 1, touched_at=timezone.now()
    )
    if not claimed:
        return  # another run has it, or it is read, refused or waiting for an answer
    reading = UploadReading.objects.get(pk=reading_id)
    mine = UploadReading.objects.filter(pk=reading.pk, attempt=reading.attempt)
    try:
        if reading.attempt > MAX_ATTEMPTS:
            refusal = GAVE_UP.format(attempts=MAX_ATTEMPTS)
            _end(mine, status=ReadingStatus.REFUSED, refusal=refusal, content=b"")
            return
        with _KeptAlive(mine):
            _read(reading, mine)
    except ReadingOvertaken:
        logger.info("Reading %s was taken over by a later run; this one stopped.", reading.pk)


class _KeptAlive:
    """While the block runs, a thread touches the run's row every ALIVE_SECONDS: openpyxl
    can be silent for tens of seconds, and only a dead run may look silent."""

    def __init__(self, mine: QuerySet[UploadReading]) -> None:
        self._mine = mine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._touch, name="reading-alive", daemon=True)

    def __enter__(self) -> "_KeptAlive":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _touch(self) -> None:
        try:
            while not self._stop.wait(ALIVE_SECONDS):
                self._mine.update(touched_at=timezone.now())
        except Exception:  # the run goes on; at worst it is taken over, which it notices
            logger.exception("Could not touch a reading")
        finally:
            connection.close()  # this thread's own connection


def _read(reading: UploadReading, mine: QuerySet[UploadReading]) -> None:
    data = io.BytesIO(bytes(reading.content))
    last_touch = 0.0

    def progress(phase: str, rows: int) -> None:
        nonlocal last_touch
        if time.monotonic() - last_touch < TOUCH_SECONDS and rows:
            return
        last_touch = time.monotonic()
        if not mine.update(phase=phase, rows_read=rows, touched_at=timezone.now()):
            raise ReadingOvertaken

    try:
        result = ingest_upload(
            data,
            filename=reading.filename,
            limits=upload_limits(),
            column=reading.column,
            sheet=reading.sheet,
            progress=progress,
        )
    except ColumnChoiceNeeded as choice:
        _end(
            mine,
            status=ReadingStatus.CHOOSE,
            question=str(choice),
            candidates=[[c.choice, c.label, c.samples] for c in choice.candidates],
        )
        return
    except IngestRefused as refused:
        _end(mine, status=ReadingStatus.REFUSED, refusal=str(refused), content=b"")
        return
    digest, size = file_sha256(data)
    with transaction.atomic():
        draft = draft_create(
            actor=reading.created_by,
            result=result,
            file=FileFacts(reading.filename, size, sha256=digest),
        )
        _end(mine, status=ReadingStatus.DONE, draft=draft, content=b"", rows_read=result.rows)
        schedule_lookup(draft)


def _end(mine: QuerySet[UploadReading], **fields: object) -> None:
    if not mine.update(touched_at=timezone.now(), **fields):
        raise ReadingOvertaken


def reading_stalled(reading: UploadReading) -> Situation | None:
    """What to tell the operator when the run reading their file has fallen silent."""
    silent = (timezone.now() - reading.touched_at).total_seconds()
    if reading.status != ReadingStatus.READING or silent < 3 * ALIVE_SECONDS:
        return None
    return Situation(
        f"The worker reading this file has not been heard from for {int(silent):,} s (it may "
        f"have stopped). A live worker starts reading it again within "
        f"{READING_STALE_SECONDS // 60} minutes of its going silent.",
        problem=False,
    )


def readings_rescue() -> list[str]:
    """Queue again each reading whose run fell silent, or whose task was lost (called by
    workers' heartbeats)."""
    stale_before = timezone.now() - timedelta(seconds=READING_STALE_SECONDS)
    stale = UploadReading.objects.filter(
        status__in=[ReadingStatus.QUEUED, ReadingStatus.READING], touched_at__lt=stale_before
    )
    rescued = []
    for reading in stale.only("pk", "touched_at"):
        # Whoever moves touched_at first queues it: one new task, not one per worker.
        moved = UploadReading.objects.filter(pk=reading.pk, touched_at=reading.touched_at).update(
            status=ReadingStatus.QUEUED, touched_at=timezone.now()
        )
        if moved:
            _enqueue(reading)
            rescued.append(str(reading.pk))
    return rescued


def readings_forget_older(cutoff: datetime) -> int:
    """Delete readings made before ``cutoff`` (their drafts stay); how many."""
    return UploadReading.objects.filter(created_at__lt=cutoff).delete()[0]


# Someone watches the page: before the jobs' next slices, like the preview's look-up.
@task(priority=10)
def read_upload(reading_id: str) -> None:
    reading_run(reading_id)


def _enqueue(reading: UploadReading) -> None:
    transaction.on_commit(lambda: read_upload.enqueue(str(reading.pk)))
