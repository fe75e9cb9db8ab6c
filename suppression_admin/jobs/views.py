"""Job pages: a job's progress and outcome, the team's jobs, cancel, the result CSV.

Plain pages and forms (POST, then redirect); HTMX only refreshes the progress fragment.
"""

import csv
import io
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from suppression_admin.audit.csv_export import neutralise
from suppression_admin.audit.models import AccessKind, OperationItem, Provider
from suppression_admin.audit.services import access_record
from suppression_admin.client_address import client_address
from suppression_admin.jobs.selectors import (
    PROBLEMS_SHOWN,
    job_events,
    job_for_page,
    job_problems,
    job_problems_counted,
    job_retries,
    job_seconds_left,
    jobs_listed,
)
from suppression_admin.jobs.services import job_cancel as cancel_job
from suppression_admin.jobs.workers import job_situation

can_operate = permission_required("audit.perform_unblock", raise_exception=True)

BLACKLISTED_REMINDER = (
    "Prospects already marked BLACKLISTED in Woodpecker keep that status: removing their "
    "address from the blacklist does not change it. Change it in Woodpecker if needed."
)
CANCEL_ASKED = (
    "Cancelling: the job stops after the request it has out, and records the rest as not sent."
)
CANCELLED_AT_ONCE = "Cancelled: nothing of it was out, so it stopped at once."
ALREADY_OVER = "This job had already ended ({status}): nothing to cancel."
ALREADY_ASKED = "A cancel was already asked for by {who}: the job stops after its request out."


@require_GET
@can_operate
def jobs_mine(request: HttpRequest) -> HttpResponse:
    return _job_list(request, jobs_listed(created_by=request.user), scope="mine")


@require_GET
@can_operate
def jobs_all(request: HttpRequest) -> HttpResponse:
    return _job_list(request, jobs_listed(), scope="all")


def _job_list(request: HttpRequest, jobs, *, scope: str) -> HttpResponse:
    rows = [(job, None if job.is_finished else job_situation(job)) for job in jobs]
    return render(request, "jobs/jobs.html", {"rows": rows, "scope": scope})


@require_GET
@can_operate
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(pk)
    retries = job_retries(job)
    context = {
        "job": job,
        "situation": job_situation(job),
        "seconds_left": job_seconds_left(job),
        "events": job_events(job),
        "retries": retries,
        # One retry per job: the retry's own leftovers are retried from it.
        "can_retry": job.retryable and not retries,
        "reminder": BLACKLISTED_REMINDER if job.provider == Provider.WOODPECKER else "",
    }
    if job.is_finished:
        after = _int(request.GET.get("problems_after"), default=-1)
        problems = list(job_problems(job, after=after))
        context["problems"] = problems[:PROBLEMS_SHOWN]
        before, total, previous = job_problems_counted(job, after=after)
        context["problems_first"] = before + 1
        context["problems_last"] = before + len(context["problems"])
        context["problems_total"] = total
        context["problems_previous"] = previous if after >= 0 else None
        context["problems_next"] = None
        if len(problems) > PROBLEMS_SHOWN:
            context["problems_next"] = problems[PROBLEMS_SHOWN - 1].position
    if request.htmx and request.htmx.target == "progress":
        return render(request, "jobs/job.html#progress", context)
    return render(request, "jobs/job.html", context)


def _int(text: str | None, *, default: int) -> int:
    try:
        return max(int(text or ""), -1)
    except ValueError:
        return default


@require_POST
@can_operate
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(pk)
    if cancel_job(job, actor=request.user):
        stopped = _job(pk).is_finished
        messages.info(request, CANCELLED_AT_ONCE if stopped else CANCEL_ASKED)
    elif job.is_finished:
        messages.info(request, ALREADY_OVER.format(status=job.get_status_display()))
    else:
        who = job.cancel_requested_by.get_username() if job.cancel_requested_by else "someone"
        messages.info(request, ALREADY_ASKED.format(who=who))
    return redirect("jobs:detail", pk=job.pk)


@require_GET
@can_operate
def job_result_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = _job(pk)
    access_record(
        AccessKind.JOB_RESULT,
        {"job": job.pk, "provider": job.provider},
        actor=request.user,
        client_ip=client_address(request),
    )
    items = (
        OperationItem.objects.filter(operation_id=job.pk)
        .order_by("position")
        .values_list("identifier", "label", "outcome", "detail")
    )
    response = StreamingHttpResponse(
        _result_lines(job, items), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-result.csv"'
    return response


def _result_lines(job, items) -> Iterator[str]:
    labels = dict(OperationItem._meta.get_field("outcome").choices)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if job.provider == Provider.WOODPECKER:
        writer.writerow(["email", "outcome", "detail"])
    else:
        writer.writerow(["lead_id", "public_identifier", "outcome", "detail"])
    for identifier, label, outcome, detail in items.iterator(chunk_size=5000):
        names = [identifier] if job.provider == Provider.WOODPECKER else [identifier, label]
        cells = (*names, labels.get(outcome, outcome), detail)
        writer.writerow([neutralise(cell) for cell in cells])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _job(pk: int):
    job = job_for_page(pk)
    if job is None:
        raise Http404("No job with this number.")
    return job
