"""``manage.py verify_audit_log [--checkpoint FILE]``: recompute the audit's hash chain.

Exits 0 when every finished operation is in the chain and matches its seal; otherwise names
the first broken link and exits 1. With a checkpoint (``audit_checkpoint``), also catches
seals cut off the end since it was taken.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from suppression_admin.audit.chain import chain_verify, checkpoint_check


class Command(BaseCommand):
    help = "Recompute the audit log's hash chain; name the first broken link (exit 1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoint", type=Path, help="a file audit_checkpoint wrote")

    def handle(self, *args, checkpoint: Path | None, **options) -> None:
        if checkpoint is not None:
            if not settings.AUDIT_CHECKPOINT_KEY:
                raise CommandError("Set AUDIT_CHECKPOINT_KEY to check a checkpoint.")
            try:
                saved = json.loads(checkpoint.read_text())
            except (OSError, ValueError) as error:
                raise CommandError(f"Cannot read the checkpoint {checkpoint}: {error}") from error
            key = settings.AUDIT_CHECKPOINT_KEY.encode()
            if broken := checkpoint_check(key, saved):
                raise CommandError(f"The audit log does not hold: {broken}.", returncode=1)
        checked, broken = chain_verify()
        if broken is not None:
            raise CommandError(
                f"The audit log does not hold: {broken}. ({checked} links checked before it.)",
                returncode=1,
            )
        self.stdout.write(f"The audit log holds: {checked} sealed operations, chain intact.")
