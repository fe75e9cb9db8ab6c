"""``manage.py remove_woodpecker_emails``: the web's ingest and job, run in this process."""

import json
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection

from suppression_admin.accounts.actors import operator_for_command
from suppression_admin.audit.models import OperationStatus, Source
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.selectors import job_seconds_left
from suppression_admin.jobs.senders import CannotRun
from suppression_admin.jobs.workers import job_run_in_this_process
from suppression_admin.providers.errors import ProviderNotConfigured
from suppression_admin.woodpecker.ingest import ColumnChoiceNeeded, IngestRefused, ingest_upload
from suppression_admin.woodpecker.services import (
    FileFacts,
    RemovalRequestInvalid,
    draft_create,
    file_sha256,
    removal_job_start,
    upload_limits,
)


class Command(BaseCommand):
    help = (
        "Remove the email addresses in a CSV/xlsx file from the Woodpecker blacklist, with the "
        "same checks, job and audit as the web. Exits 0 only if every valid address ended "
        "removed or not on the blacklist."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSV or .xlsx file")
        parser.add_argument("--reason", required=True, help="why (goes into the audit log)")
        parser.add_argument("--actor", required=True, help="username of the person responsible")
        parser.add_argument("--ticket", default="", help="ticket or reference")
        parser.add_argument(
            "--column", type=int, help="the email column's number (1 = first), if asked"
        )
        parser.add_argument(
            "--sheet", type=int, help="a workbook's sheet number (1 = first tab), if asked"
        )
        parser.add_argument("--dry-run", action="store_true", help="read and check only")
        parser.add_argument("--json", action="store_true", help="print JSON, not text")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        column = options["column"] - 1 if options["column"] else None
        sheet = options["sheet"] - 1 if options["sheet"] else None
        try:
            with path.open("rb") as data:
                result = ingest_upload(
                    data, filename=path.name, limits=upload_limits(), column=column, sheet=sheet
                )
                digest, size = file_sha256(data)
        except FileNotFoundError as error:
            raise CommandError(f"No file at {path}.") from error
        except ColumnChoiceNeeded as choice:
            columns = "; ".join(
                ("" if c.sheet is None else f"--sheet {c.sheet + 1} ")
                + f"--column {c.index + 1} for {c.label} (e.g. {', '.join(c.samples[:2])})"
                for c in choice.candidates
            )
            raise CommandError(f"{choice} Choose one: {columns}.") from choice
        except IngestRefused as refused:
            raise CommandError(str(refused)) from refused

        if options["dry_run"]:
            self._print_dry_run(result, as_json=options["json"])
            return

        actor = operator_for_command(options["actor"])
        draft = draft_create(
            actor=actor, result=result, file=FileFacts(name=path.name, size=size, sha256=digest)
        )
        try:
            job = removal_job_start(
                actor=actor,
                draft=draft,
                reason=options["reason"],
                ticket=options["ticket"],
                source=Source.FILE,
                user_agent="manage.py remove_woodpecker_emails",
                schedule=False,
            )
        except (RemovalRequestInvalid, ProviderNotConfigured) as error:
            raise CommandError(str(error)) from error
        job = self._run_with_progress(job)
        self._print_result(job, as_json=options["json"])
        if job.status != OperationStatus.SUCCEEDED:
            raise CommandError(
                f"Not every address was removed (job #{job.pk}, {job.get_status_display()}).",
                returncode=1,
            )

    def _run_with_progress(self, job: Job) -> Job:
        failure: list[BaseException] = []

        def work() -> None:
            try:
                job_run_in_this_process(job.pk)
            except BaseException as error:  # reported by the main thread
                failure.append(error)
            finally:
                connection.close()

        worker = threading.Thread(target=work, name=f"removal-job-{job.pk}")
        worker.start()
        show = self.stdout.isatty()
        while worker.is_alive():
            worker.join(timeout=0.5)
            if show:
                job.refresh_from_db()
                job.operation.refresh_from_db()
                self._draw(job)
        close_old_connections()
        job.refresh_from_db()
        job.operation.refresh_from_db()
        if show:
            self._draw(job)
            self.stdout.write("")
        if failure and isinstance(failure[0], CannotRun):
            raise CommandError(f"{failure[0]} Job #{job.pk} waits for a worker that can run it.")
        if failure:
            raise CommandError(
                f"The job stopped on an internal error: {failure[0]!r}. "
                f"Run it again with a worker: job #{job.pk} is resumable."
            )
        return job

    def _draw(self, job: Job) -> None:
        width = 30
        filled = int(width * job.processed / job.total) if job.total else width
        bar = "#" * filled + "." * (width - filled)
        seconds_left = job_seconds_left(job)
        left = f", ~{seconds_left} s left" if seconds_left is not None else ""
        self.stdout.write(
            f"\r[{bar}] {job.percent:3d}% {job.processed:,}/{job.total:,}{left}   ", ending=""
        )
        self.stdout.flush()

    def _print_dry_run(self, result, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "rows": result.rows,
                        "valid": result.valid,
                        "invalid": [
                            {"row": row.row, "value": row.value, "error": row.reason}
                            for row in result.invalid
                        ],
                        "duplicates": len(result.duplicates),
                    }
                )
            )
            return
        self.stdout.write(
            f"{result.rows:,} rows from {result.column_label}: {len(result.valid):,} valid, "
            f"{len(result.invalid):,} invalid, {len(result.duplicates):,} duplicates. "
            "Dry run: nothing was sent."
        )
        for row in result.invalid[:50]:
            self.stdout.write(f"  row {row.row}: {row.value!r}: {row.reason}")

    def _print_result(self, job: Job, *, as_json: bool) -> None:
        figures = {
            "job": job.pk,
            "operation": job.operation_id,
            "status": job.status,
            "total": job.total,
            "removed": job.done,
            "not_on_blacklist": job.not_listed,
            "off_the_list_checked_by_look_up": job.gone,
            "failed": job.failed,
            "unknown": job.unknown,
            "not_sent": job.not_sent,
        }
        if as_json:
            self.stdout.write(json.dumps(figures))
            return
        self.stdout.write(job.operation.summary if job.operation.summary else str(figures))
        self.stdout.write(
            "Reminder: prospects already marked BLACKLISTED in Woodpecker keep that status."
        )
