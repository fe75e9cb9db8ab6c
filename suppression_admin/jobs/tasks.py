"""The job's task: one run of a job, which queues the next while work is left."""

from datetime import datetime

from django.conf import settings
from django.tasks import TaskContext, task
from django.utils import timezone

from suppression_admin.jobs.engine import job_run
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.worker_id import worker_id


@task(takes_context=True)
def run_job(context: TaskContext, job_id: int) -> str:
    this_task = str(context.task_result.id)

    def go_on(when: datetime) -> None:
        # Queued before the job is let go, so it never looks abandoned in between. Only the
        # job's latest task carries it on: a task the rescue replaced lets it go.
        job = Job.objects.filter(pk=job_id, task_id=this_task).first()
        if job is not None:
            job_enqueue(job, run_after=when)

    run = job_run(job_id, worker_id=worker_id(), seconds=settings.JOB_SLICE_SECONDS, on_pause=go_on)
    return run.job.operation.status


def job_enqueue(job: Job, *, run_after: datetime | None = None) -> None:
    """Queue a run of the job, on its provider's queue (workers listen to the providers
    they can reach)."""
    options = {"queue_name": job.provider}
    # A run due now is queued without a time, behind the tasks already waiting (a preview's
    # look-up, another job): a long job does not keep a worker to itself.
    if run_after is not None and run_after > timezone.now():
        options["run_after"] = run_after
    result = run_job.using(**options).enqueue(job.pk)
    Job.objects.filter(pk=job.pk).update(task_id=str(result.id))
