"""``manage.py seed_sandbox``: replace the sandbox providers' data with deterministic fakes."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from suppression_admin.sandbox.seed import (
    DEFAULT_EMAILS,
    DEFAULT_LEADS,
    DEFAULT_SEED,
    sandbox_has_data,
    seed_sandbox_data,
)


class Command(BaseCommand):
    help = (
        "Delete all sandbox provider data, then create made-up WaLead blocked leads and "
        "Woodpecker blacklisted emails (the same rows for the same --seed on the same day)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=DEFAULT_LEADS, help="blocked leads")
        parser.add_argument("--emails", type=int, default=DEFAULT_EMAILS, help="blacklisted emails")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="keep existing sandbox data (e.g. leads unblocked in an earlier session)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("leads", "emails"):
            if options[name] < 0:
                raise CommandError(f"--{name} must be 0 or more.")
        if options["if_empty"] and sandbox_has_data():
            self.stdout.write("Sandbox already seeded; keeping its data (reset_sandbox clears it).")
            return
        result = seed_sandbox_data(
            leads=options["leads"], emails=options["emails"], seed=options["seed"]
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Sandbox seeded: {result.leads} WaLead blocked leads, "
                f"{result.emails} Woodpecker blacklisted emails."
            )
        )
