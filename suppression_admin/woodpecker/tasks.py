"""Background tasks (django.tasks, run by django-tasks-db's db_worker)."""

from django.tasks import task

from suppression_admin.woodpecker.jobs import removal_job_run
from suppression_admin.woodpecker.models import RemovalDraft
from suppression_admin.woodpecker.services import draft_lookup_blacklisted


@task()
def run_removal_job(job_id: int) -> str:
    return removal_job_run(job_id).status


@task()
def lookup_draft(draft_id: str) -> None:
    draft = RemovalDraft.objects.filter(pk=draft_id).first()
    if draft is not None:
        draft_lookup_blacklisted(draft)
