"""``manage.py unblock_walead_leads``: the web flow's service, job and audit, run in this
process."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from suppression_admin.accounts.actors import operator_for_command
from suppression_admin.audit.models import OperationStatus, Source
from suppression_admin.connections import walead_client
from suppression_admin.jobs.senders import CannotRun
from suppression_admin.jobs.workers import job_run_in_this_process
from suppression_admin.providers.errors import ProviderError, ProviderNotConfigured
from suppression_admin.walead.services import (
    LeadSnapshot,
    UnblockRequestInvalid,
    leads_matching,
    leads_unblock,
)


class Command(BaseCommand):
    help = (
        "Unblock WaLead leads by id, or every lead matching a search, with the same audit as "
        "the web. Exits 0 only if every requested lead was unblocked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reason", required=True, help="why (goes into the audit log)")
        parser.add_argument("--actor", required=True, help="username of the person responsible")
        parser.add_argument("--ticket", default="", help="ticket or reference")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--id", dest="ids", action="append", metavar="ID", help="blocked-lead id (repeatable)"
        )
        which.add_argument("--search", help="public identifier search (with --all-matching)")
        parser.add_argument(
            "--all-matching", action="store_true", help="unblock every lead matching --search"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["search"] is not None and not options["all_matching"]:
            raise CommandError("--search needs --all-matching, to make unblocking many explicit.")
        if options["all_matching"] and options["search"] is None:
            raise CommandError("--all-matching goes with --search.")
        actor = operator_for_command(options["actor"])
        try:
            leads, missing = self._resolve(options["ids"], options["search"])
        except (ProviderError, ProviderNotConfigured) as error:
            raise CommandError(f"Could not read the blocked list: {error}") from error

        for lead in leads:
            if lead.looks_like_opt_out:
                self.stderr.write(
                    self.style.WARNING(
                        f"Note: {lead.public_identifier} was blocked as “{lead.reason}”: "
                        "this person asked not to be contacted."
                    )
                )
        try:
            operation = leads_unblock(
                actor=actor,
                leads=leads,
                missing_ids=missing,
                reason=options["reason"],
                ticket=options["ticket"],
                source=Source.CLI,
                source_detail={
                    "command": "unblock_walead_leads",
                    **({"search": options["search"]} if options["search"] is not None else {}),
                },
                user_agent="manage.py unblock_walead_leads",
                schedule=False,
            )
            job_run_in_this_process(operation.pk)
        except (UnblockRequestInvalid, ProviderNotConfigured, CannotRun) as error:
            raise CommandError(str(error)) from error

        operation.refresh_from_db()
        items = list(operation.items.all())
        done = sum(1 for item in items if item.is_done)
        self.stdout.write(
            f"Operation #{operation.pk}: {operation.status_label}. "
            f"Requested {len(items)}, unblocked {done}."
        )
        for item in items:
            if not item.is_done:
                name = item.label or item.identifier
                self.stdout.write(
                    f"  {name} ({item.identifier}): {item.get_outcome_display()} — {item.detail}"
                )
        if operation.status != OperationStatus.SUCCEEDED:
            raise CommandError(
                f"Not every requested lead was unblocked (operation #{operation.pk}).",
                returncode=1,
            )

    def _resolve(
        self, ids: list[str] | None, search: str | None
    ) -> tuple[list[LeadSnapshot], list[str]]:
        if search is not None:
            leads = leads_matching(search=search)
            if not leads:
                raise CommandError(f"No blocked lead matches {search!r}; nothing was sent.")
            return leads, []
        wanted = list(dict.fromkeys(ids or []))
        found: dict[str, LeadSnapshot] = {}
        client = walead_client()
        try:
            # The API cannot fetch by id: page through the list until every id is found.
            for lead in client.iter_blocked_leads():
                if lead.id in wanted:
                    found[lead.id] = LeadSnapshot.from_lead(lead)
                    if len(found) == len(wanted):
                        break
        finally:
            client.close()
        return [found[i] for i in wanted if i in found], [i for i in wanted if i not in found]
