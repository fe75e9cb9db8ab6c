"""Drafts and jobs for the Woodpecker tests, made through the real services."""

from suppression_admin.jobs.engine import job_run
from suppression_admin.jobs.models import Job
from suppression_admin.woodpecker.models import DraftSource, RemovalDraft
from suppression_admin.woodpecker.services import removal_job_start

TEST_WORKER = "test-host:1:worker"


def make_draft(actor, emails: list[str], *, filename: str = "list.csv") -> RemovalDraft:
    """A draft as the ingest step leaves it (the ingest itself is tested on its own)."""
    return RemovalDraft.objects.create(
        created_by=actor,
        source=DraftSource.FILE,
        filename=filename,
        size_bytes=100,
        sha256="ab" * 32,
        column_label='header "email"',
        rows=len(emails),
        valid_count=len(emails),
        emails="\n".join(emails),
    )


def start_job(actor, emails: list[str], **kwargs) -> Job:
    return removal_job_start(
        actor=actor,
        draft=make_draft(actor, emails),
        reason=kwargs.pop("reason", "Customer asked to hear from us again"),
        **kwargs,
    )


def run(job: Job, *, worker: str = TEST_WORKER, seconds: float | None = None) -> Job:
    """One run of the job in this process, as a worker would (without slicing by default)."""
    return job_run(job.pk, worker_id=worker, seconds=seconds).job


def addresses(n: int, *, prefix: str = "person") -> list[str]:
    return [f"{prefix}{i}@example.com" for i in range(n)]
