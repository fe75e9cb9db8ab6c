from django.core.management.base import BaseCommand

from suppression_admin.woodpecker.jobs import removal_jobs_recover


class Command(BaseCommand):
    help = (
        "Schedule every unfinished Woodpecker removal job again (after a worker was killed). "
        "Safe to run at any time, e.g. from cron: a job already being worked on is shared."
    )

    def handle(self, *args, **options) -> None:
        job_ids = removal_jobs_recover()
        self.stdout.write(
            f"Rescheduled {len(job_ids)} unfinished job(s)"
            + (f": {', '.join(f'#{job_id}' for job_id in job_ids)}." if job_ids else ".")
        )
