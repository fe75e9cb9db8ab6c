from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from suppression_admin.accounts.roles import ROLES

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - sandbox-only login, printed by bin/start


class Command(BaseCommand):
    help = (
        "Create the sandbox demo login, in both Operators and Auditors. An existing one keeps "
        "its password (and so its sessions): restarting logs nobody out."
    )

    def handle(self, *args, **options) -> None:
        if not settings.SUPPRESSION_SANDBOX:
            raise CommandError(
                "The demo login exists only in sandbox mode (SUPPRESSION_SANDBOX=1)."
            )
        user, created = User.objects.get_or_create(username=DEMO_USERNAME)
        if created or not user.has_usable_password():
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(*Group.objects.filter(name__in=ROLES))
        if user.check_password(DEMO_PASSWORD):
            self.stdout.write(f"{DEMO_USERNAME} / {DEMO_PASSWORD}")
        else:
            self.stdout.write(f"{DEMO_USERNAME} / (the password you set)")
