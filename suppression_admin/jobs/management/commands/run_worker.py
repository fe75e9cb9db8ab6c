from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from suppression_admin.jobs.worker_id import worker_id
from suppression_admin.jobs.workers import Heartbeat


class Command(BaseCommand):
    help = (
        "Run a background worker: django-tasks-db's db_worker, plus a heartbeat that keeps "
        "this worker's jobs leased and hands on the jobs of workers that fell silent. It "
        "listens only to the queues of the providers it can reach."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls")

    def handle(self, *args, **options) -> None:
        name = worker_id()
        with Heartbeat(name, chores=True) as heartbeat:
            for provider, why in heartbeat.cannot_run.items():
                self.stderr.write(f"Not running {provider} jobs: {why}")
            queues = ["default", *heartbeat.can_run]
            self.stdout.write(f"Worker {name}: queues {', '.join(queues)}.")
            self.stdout.flush()
            call_command(
                "db_worker",
                queue_name=",".join(queues),
                interval=options["interval"],
                worker_id=name,
                reload=False,
                startup_delay=False,
            )
