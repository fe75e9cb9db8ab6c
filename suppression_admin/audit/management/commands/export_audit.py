"""Export the audit log as JSON Lines: one operation per line, oldest first.

python manage.py export_audit --format jsonl [--since YYYY-MM-DD] [--until YYYY-MM-DD]
"""

import json
from datetime import date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from suppression_admin.audit.selectors import operations_for_export
from suppression_admin.audit.serializers import operation_to_dict

# Operations per database round trip; their items and calls are prefetched per chunk.
CHUNK_SIZE = 500


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

    def handle(self, *args: Any, **options: Any) -> None:
        # Parsed here rather than by argparse: a CommandError exits 1 with just the message.
        since = _parse_day(options["since"], "--since")
        until = _parse_day(options["until"], "--until")
        if since and until and since > until:
            raise CommandError(f"--since ({since}) is after --until ({until}).")
        operations = operations_for_export(date_from=since, date_to=until)
        for operation in operations.iterator(chunk_size=CHUNK_SIZE):
            self.stdout.write(json.dumps(operation_to_dict(operation), ensure_ascii=False))


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(f"{option} must be a date as YYYY-MM-DD, not {value!r}.") from None
