from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from suppression_admin.woodpecker.jobs import removal_jobs_recover


class Command(BaseCommand):
    help = (
        "Run a background worker: first reschedule unfinished removal jobs (a killed worker "
        "leaves its task marked running forever), then run django-tasks-db's db_worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
        parser.add_argument("--worker-id", default=None, help="unique id (default: random)")

    def handle(self, *args, **options) -> None:
        recovered = removal_jobs_recover()
        if recovered:
            self.stdout.write(f"Rescheduled unfinished removal jobs: {recovered}")
        worker_options = {"interval": options["interval"], "reload": False}
        if options["worker_id"]:
            worker_options["worker_id"] = options["worker_id"]
        call_command("db_worker", **worker_options)
