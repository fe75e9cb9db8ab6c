"""``manage.py audit_checkpoint [--output FILE]``: the head of the audit's hash chain, signed.

Keep the output outside the database (another host, a write-once store), e.g. from cron
every hour. ``verify_audit_log --checkpoint FILE`` then also catches seals cut off the end.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from suppression_admin.audit.chain import checkpoint_make


class Command(BaseCommand):
    help = "Print (or write) the audit chain's head: sequence, hash, time, HMAC-SHA256."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, help="write it to this file")

    def handle(self, *args, output: Path | None, **options) -> None:
        if not settings.AUDIT_CHECKPOINT_KEY:
            raise CommandError(
                "Set AUDIT_CHECKPOINT_KEY (a secret kept away from the database) to sign it."
            )
        at = timezone.now().isoformat(timespec="seconds")
        checkpoint = checkpoint_make(settings.AUDIT_CHECKPOINT_KEY.encode(), at=at)
        text = json.dumps(checkpoint, indent=2)
        if output is not None:
            output.write_text(text + "\n")
            output.chmod(0o600)
            self.stdout.write(f"Checkpoint of seal {checkpoint['sequence']} written to {output}.")
        else:
            self.stdout.write(text)
