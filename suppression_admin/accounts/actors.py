"""Who a command-line action is recorded as: an active user in the Operators role."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError


def operator_for_command(username: str) -> AbstractBaseUser:
    """The active user named ``username`` who may unblock and remove; CommandError if not."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user named {username!r}.")
    if not user.has_perm("audit.perform_unblock"):
        raise CommandError(f"{username!r} may not unblock or remove (not in Operators).")
    return user
