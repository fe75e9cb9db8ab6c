from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

from suppression_admin.connections import walead_endpoint, woodpecker_endpoint
from suppression_admin.providers.errors import ProviderNotConfigured


def sandbox(request: HttpRequest) -> dict:
    """In sandbox mode every page says, per provider, where its requests really go: a
    provider whose *_BASE_URL is set explicitly is live even then, and the banner turns red
    so nobody mistakes a live provider for the sandbox."""
    if not settings.SUPPRESSION_SANDBOX:
        return {"sandbox_mode": False}
    providers = [_where("WaLead", walead_endpoint), _where("Woodpecker", woodpecker_endpoint)]
    return {
        "sandbox_mode": True,
        "sandbox_providers": providers,
        "sandbox_any_live": any(live for _, _, live in providers),
    }


def _where(name: str, endpoint_for) -> tuple[str, str, bool]:
    """(provider, where its requests go, whether that is live)."""
    try:
        endpoint = endpoint_for()
    except ProviderNotConfigured:
        return name, "not configured", False
    if endpoint.mode == "sandbox":
        return name, "sandbox", False
    return name, f"live at {urlsplit(endpoint.base_url).hostname}", True


def navigation(request: HttpRequest) -> dict:
    """Which part of the navigation the page belongs to (its link gets aria-current)."""
    match = request.resolver_match
    namespace = match.namespace if match else ""
    if namespace == "woodpecker" and match.url_name.startswith(("removal", "retry")):
        return {"nav_current": "bulk"}
    return {"nav_current": namespace}
