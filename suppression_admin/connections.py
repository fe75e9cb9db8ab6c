"""Builds provider clients from settings: the one place that knows keys and base URLs.

SUPPRESSION_SANDBOX=1 serves a provider from the embedded sandbox (over real HTTP, through
the same client code), unless that provider's *_BASE_URL is set explicitly.
"""

from dataclasses import dataclass
from functools import partial

from django.conf import settings

from suppression_admin.providers.base import CallLog, Timeouts
from suppression_admin.providers.errors import ProviderNotConfigured
from suppression_admin.providers.walead import WaleadClient
from suppression_admin.providers.woodpecker import WoodpeckerClient
from suppression_admin.woodpecker.keylock import one_request_at_a_time

WALEAD_DEFAULT_BASE_URL = "https://app-api.walead.ai/api"
WOODPECKER_DEFAULT_BASE_URL = "https://api.woodpecker.co/rest"

WALEAD_TIMEOUTS = Timeouts(connect=5.0, read=20.0, deadline=60.0)
# Woodpecker queues a request up to 15 s behind the one it is processing: the read timeout
# must outlast that queue, or a request that is merely waiting would look lost.
WOODPECKER_TIMEOUTS = Timeouts(connect=5.0, read=35.0, deadline=90.0)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str
    mode: str  # "sandbox" or "live"


def walead_endpoint() -> Endpoint:
    return _endpoint(
        name="WaLead",
        key=settings.WALEAD_API_KEY,
        base_url=settings.WALEAD_BASE_URL,
        default_base_url=WALEAD_DEFAULT_BASE_URL,
        sandbox_path="/sandbox/walead/api",
        key_variable="WALEAD_API_KEY",
    )


def woodpecker_endpoint() -> Endpoint:
    return _endpoint(
        name="Woodpecker",
        key=settings.WOODPECKER_API_KEY,
        base_url=settings.WOODPECKER_BASE_URL,
        default_base_url=WOODPECKER_DEFAULT_BASE_URL,
        sandbox_path="/sandbox/woodpecker/rest",
        key_variable="WOODPECKER_API_KEY",
    )


def walead_client(*, call_log: CallLog | None = None) -> WaleadClient:
    """Raises ProviderNotConfigured when WaLead has no key and the sandbox is off."""
    endpoint = walead_endpoint()
    return WaleadClient(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        timeouts=WALEAD_TIMEOUTS,
        call_log=call_log,
    )


def woodpecker_client(*, call_log: CallLog | None = None, guarded: bool = True) -> WoodpeckerClient:
    """Raises ProviderNotConfigured when Woodpecker has no key and the sandbox is off.

    Every request takes its turn on the key (one in flight per key, across processes).
    ``guarded=False`` is only for a caller that already holds the key's lock on another
    thread (the removal job's sender).
    """
    endpoint = woodpecker_endpoint()
    guard = partial(
        one_request_at_a_time, endpoint.api_key, wait_seconds=settings.WOODPECKER_KEY_WAIT_SECONDS
    )
    return WoodpeckerClient(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        timeouts=WOODPECKER_TIMEOUTS,
        call_log=call_log,
        request_guard=guard if guarded else None,
    )


def _endpoint(
    *,
    name: str,
    key: str,
    base_url: str,
    default_base_url: str,
    sandbox_path: str,
    key_variable: str,
) -> Endpoint:
    if settings.SUPPRESSION_SANDBOX and not base_url:
        return Endpoint(
            base_url=f"{settings.SANDBOX_BASE_URL}{sandbox_path}",
            api_key=settings.SANDBOX_API_KEY,
            mode="sandbox",
        )
    if not key:
        raise ProviderNotConfigured(
            f"{name} is not configured: set {key_variable} in the environment "
            "(or SUPPRESSION_SANDBOX=1 to use the embedded sandbox)."
        )
    return Endpoint(base_url=base_url or default_base_url, api_key=key, mode="live")
