from django.conf import settings
from django.http import HttpRequest


def sandbox(request: HttpRequest) -> dict[str, bool]:
    """Every page shows a banner in sandbox mode, so nobody mistakes it for production."""
    return {"sandbox_mode": settings.SUPPRESSION_SANDBOX}
