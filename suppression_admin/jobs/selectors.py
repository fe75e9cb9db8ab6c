"""Reads of jobs for the pages: each fetches what the page shows, nothing lazily."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from suppression_admin.audit.models import ItemOutcome, OperationEvent, OperationItem
from suppression_admin.jobs.models import Job

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


def job_events(job: Job) -> QuerySet[OperationEvent]:
    return OperationEvent.objects.filter(operation_id=job.pk).order_by("at", "id")


def job_problems(job: Job) -> QuerySet[OperationItem]:
    """The first items that did not end done (the whole list is in the result CSV)."""
    done = [ItemOutcome.REMOVED, ItemOutcome.UNBLOCKED, ItemOutcome.NOT_LISTED]
    return (
        OperationItem.objects.filter(operation_id=job.pk)
        .exclude(outcome__in=done)
        .order_by("position")
        .only("identifier", "label", "outcome", "detail")[:PROBLEMS_SHOWN]
    )


def job_retries(job: Job) -> list[int]:
    return list(job.retries.order_by("pk").values_list("pk", flat=True))
