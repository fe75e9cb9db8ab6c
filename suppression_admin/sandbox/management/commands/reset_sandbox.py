"""``manage.py reset_sandbox``: delete all sandbox provider data (no prompt: it is all fake)."""

from typing import Any

from django.core.management.base import BaseCommand

from suppression_admin.sandbox.seed import reset_sandbox_data


class Command(BaseCommand):
    help = "Delete every sandbox WaLead blocked lead and Woodpecker blacklisted email."

    def handle(self, *args: Any, **options: Any) -> None:
        result = reset_sandbox_data()
        self.stdout.write(
            self.style.SUCCESS(
                f"Sandbox reset: deleted {result.leads} blocked leads "
                f"and {result.emails} blacklisted emails."
            )
        )
