"""Reads of jobs for the pages: each fetches what the page shows, nothing lazily."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from suppression_admin.audit.models import DONE_OUTCOMES, OperationEvent, OperationItem
from suppression_admin.jobs.models import Chunk, ChunkStatus, Job

LIST_LIMIT = 200
PROBLEMS_SHOWN = 100


def jobs_listed(*, created_by: AbstractBaseUser | None = None) -> QuerySet[Job]:
    """The newest jobs (the team's, or one person's), with what the list shows."""
    jobs = Job.objects.select_related("operation", "created_by").order_by("-operation_id")
    if created_by is not None:
        jobs = jobs.filter(created_by=created_by)
    return jobs[:LIST_LIMIT]


def job_for_page(pk: int) -> Job | None:
    return (
        Job.objects.select_related(
            "operation", "created_by", "cancel_requested_by", "removal_draft", "retry_of"
        )
        .defer("removal_draft__emails", "removal_draft__unused_csv", "removal_draft__invalid_rows")
        .filter(pk=pk)
        .first()
    )


# How many of the last finished chunks set the pace of the estimate.
PACE_CHUNKS = 10


def job_seconds_left(job: Job) -> int | None:
    """A straight-line estimate from the pace of the last chunks; None without a steady pace
    (too early, resting, or no chunk finished lately: a worker may have stopped)."""
    if job.is_finished or job.resting:
        return None
    recent = list(
        Chunk.objects.filter(job=job, status=ChunkStatus.DONE, done_at__isnull=False)
        .order_by("-done_at")
        .values_list("done_at", flat=True)[: PACE_CHUNKS + 1]
    )
    if len(recent) < 2:
        return None
    pace = (recent[0] - recent[-1]).total_seconds() / (len(recent) - 1)
    quiet = (timezone.now() - recent[0]).total_seconds()
    if quiet > max(10.0, 3 * pace):
        return None  # stalled: a guess would only mislead
    left = Chunk.objects.filter(job=job, status__in=[ChunkStatus.PENDING, ChunkStatus.IN_FLIGHT])
    return int(left.count() * pace)


def job_events(job: Job) -> QuerySet[OperationEvent]:
    return OperationEvent.objects.filter(operation_id=job.pk).order_by("at", "id")


def job_problems(job: Job, *, after: int = -1) -> QuerySet[OperationItem]:
    """The items that did not end done, after position ``after``: a page of PROBLEMS_SHOWN
    and one more, which says whether there is a next page (the result CSV has them all)."""
    return (
        _problems(job)
        .filter(position__gt=after)
        .order_by("position")
        .only("position", "identifier", "label", "outcome", "detail")[: PROBLEMS_SHOWN + 1]
    )


def job_problems_counted(job: Job, *, after: int = -1) -> tuple[int, int, int]:
    """For the page of problems after ``after``: how many come before it, how many there
    are in all, and the ``after`` of the page before it (-1: the first)."""
    earlier = _problems(job).filter(position__lte=after)
    before = earlier.count() if after >= 0 else 0
    back = earlier.order_by("-position").values_list("position", flat=True)
    previous = list(back[PROBLEMS_SHOWN : PROBLEMS_SHOWN + 1]) if after >= 0 else []
    return before, _problems(job).count(), previous[0] if previous else -1


def _problems(job: Job) -> QuerySet[OperationItem]:
    return OperationItem.objects.filter(operation_id=job.pk).exclude(outcome__in=DONE_OUTCOMES)


def job_retries(job: Job) -> list[int]:
    return list(job.retries.order_by("pk").values_list("pk", flat=True))
