"""Export the audit log as JSON Lines: one operation per line, oldest first.

python manage.py export_audit --format jsonl [--since YYYY-MM-DD] [--until YYYY-MM-DD]
    [--identifier X [--all-items]] [--ticket T] [--match exact|prefix] [--reason WORDS]
    [--actor NAME] [--provider walead|woodpecker] [--status STATUS]

The filters are the audit page's. Memory stays flat whatever the size of the operations:
each line is written item by item.
"""

import getpass
from datetime import date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from suppression_admin.audit.forms import AuditFilterForm
from suppression_admin.audit.models import AccessKind
from suppression_admin.audit.selectors import EXACT, PREFIX, items_matching, operations_filtered
from suppression_admin.audit.serializers import jsonl_chunks
from suppression_admin.audit.services import access_record

# Operations per database round trip; their items and calls are read in batches apart.
CHUNK_SIZE = 500
# Pieces of text gathered per write: one write per item would be slow.
WRITE_BLOCK = 256


class Command(BaseCommand):
    help = "Write the audit log as JSON Lines (one operation per line, oldest first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["jsonl"], default="jsonl")
        parser.add_argument(
            "--since", metavar="YYYY-MM-DD", help="first day to include (UTC, inclusive)"
        )
        parser.add_argument(
            "--until", metavar="YYYY-MM-DD", help="last day to include (UTC, inclusive)"
        )
        parser.add_argument("--identifier", default="", help="email, LinkedIn slug/URL, lead id")
        parser.add_argument(
            "--all-items",
            action="store_true",
            help="with --identifier: every item of the matching operations, not only its own",
        )
        parser.add_argument("--ticket", default="")
        parser.add_argument("--match", choices=[EXACT, PREFIX], default=EXACT)
        parser.add_argument("--reason", default="", help="words the reason must hold")
        parser.add_argument("--actor", default="")
        parser.add_argument("--provider", default="")
        parser.add_argument("--status", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        # Parsed here rather than by argparse: a CommandError exits 1 with just the message.
        since = _parse_day(options["since"], "--since")
        until = _parse_day(options["until"], "--until")
        if since and until and since > until:
            raise CommandError(f"--since ({since}) is after --until ({until}).")
        form = AuditFilterForm(
            {
                "date_from": since.isoformat() if since else "",
                "date_to": until.isoformat() if until else "",
                **{
                    name: options[name]
                    for name in ("identifier", "ticket", "match", "reason", "actor")
                },
                "provider": options["provider"],
                "status": options["status"],
            }
        )
        if not form.is_valid():
            raise CommandError(form.errors_text())
        filters = form.filters()
        operations = operations_filtered(**filters).order_by("created_at", "id")
        items = None
        if filters["identifier"].strip() and not options["all_items"]:
            items = items_matching(filters["identifier"], filters["match"])
        access_record(
            AccessKind.AUDIT_EXPORT_COMMAND,
            {
                "format": "jsonl",
                "filters": {name: str(value) for name, value in filters.items() if value},
                "every_item_of_matching_operations": options["all_items"],
            },
            actor_username=f"command line, OS user {getpass.getuser()}",
        )
        block: list[str] = []
        for piece in jsonl_chunks(operations.iterator(chunk_size=CHUNK_SIZE), items=items):
            block.append(piece)
            if len(block) >= WRITE_BLOCK:
                self.stdout.write("".join(block), ending="")
                block = []
        self.stdout.write("".join(block), ending="")


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(f"{option} must be a date as YYYY-MM-DD, not {value!r}.") from None
