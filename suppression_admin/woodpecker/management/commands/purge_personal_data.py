"""Delete personal data kept outside the audit past its retention period.

python manage.py purge_personal_data [--days N]

Every worker runs it daily (WORKER_DAILY_COMMANDS); run it from cron where no worker runs.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from suppression_admin.woodpecker.retention import personal_data_purge


class Command(BaseCommand):
    help = "Delete upload drafts, their address lists and kept uploads past retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, help="retention in days (default PERSONAL_DATA_RETENTION_DAYS)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] is not None and options["days"] < 0:
            raise CommandError("--days must be 0 or more.")
        purged = personal_data_purge(days=options["days"])
        self.stdout.write(
            f"Drafts deleted: {purged.drafts_deleted}; drafts emptied: {purged.drafts_emptied}; "
            f"kept uploads deleted: {purged.uploads_deleted}; "
            f"workbook readings deleted: {purged.readings_deleted}."
        )
