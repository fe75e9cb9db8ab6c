from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from suppression_admin.accounts.roles import ROLES

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - sandbox-only login, printed by bin/start


class Command(BaseCommand):
    help = "Create (or reset) the sandbox demo login, in both Operators and Auditors."

    def handle(self, *args, **options) -> None:
        if not settings.SUPPRESSION_SANDBOX:
            raise CommandError(
                "The demo login exists only in sandbox mode (SUPPRESSION_SANDBOX=1)."
            )
        user, _ = User.objects.get_or_create(username=DEMO_USERNAME)
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.add(*Group.objects.filter(name__in=ROLES))
        self.stdout.write(f"Demo login ready: {DEMO_USERNAME} / {DEMO_PASSWORD}")
