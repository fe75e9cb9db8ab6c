"""Who may do what, beyond one permission."""

from django.contrib.auth.decorators import user_passes_test
from django.core.exceptions import PermissionDenied


def _reviews_or_operates(user) -> bool:
    if user.has_perm("audit.review_audit") or user.has_perm("audit.perform_unblock"):
        return True
    if user.is_authenticated:
        raise PermissionDenied  # signed in, without the role: 403, not the login page
    return False


# A read at a provider that either role needs: auditors checking a person, operators.
reviewer_or_operator = user_passes_test(_reviews_or_operates)
