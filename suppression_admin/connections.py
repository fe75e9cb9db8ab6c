"""Builds provider clients from settings: the one place that knows keys and base URLs.

SUPPRESSION_SANDBOX=1 serves a provider from the embedded sandbox (over real HTTP, through
the same client code), unless that provider's *_BASE_URL is set explicitly.
"""

from dataclasses import dataclass

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from suppression_admin.keys.lock import one_request_at_a_time
from suppression_admin.providers.base import CallLog, Timeouts
from suppression_admin.providers.errors import ProviderNotConfigured
from suppression_admin.providers.walead import WaleadClient
from suppression_admin.providers.woodpecker import WoodpeckerClient

WALEAD_DEFAULT_BASE_URL = "https://app-api.walead.ai/api"
WOODPECKER_DEFAULT_BASE_URL = "https://api.woodpecker.co/rest"


def walead_timeouts() -> Timeouts:
    return Timeouts(connect=5.0, read=settings.WALEAD_READ_TIMEOUT_SECONDS, deadline=60.0)


def woodpecker_timeouts() -> Timeouts:
    # Woodpecker queues a request up to 15 s behind the one it is processing: the read
    # timeout (35 s by default) must outlast that queue, or a waiting request would look lost.
    return Timeouts(connect=5.0, read=settings.WOODPECKER_READ_TIMEOUT_SECONDS, deadline=90.0)


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


@sensitive_variables("endpoint", "guard")
def walead_client(*, call_log: CallLog | None = None, one_at_a_time: bool = False) -> WaleadClient:
    """Raises ProviderNotConfigured when WaLead has no key and the sandbox is off.

    WaLead documents no limit on concurrent requests; a job's requests still take turns on
    the key (``one_at_a_time``), so a chunk a dead worker left out is settled the same way
    for both providers.
    """
    endpoint = walead_endpoint()
    timeouts = walead_timeouts()
    guard = None
    if one_at_a_time:
        guard = one_request_at_a_time(
            endpoint.api_key,
            provider="WaLead",
            wait_seconds=settings.JOB_KEY_WAIT_SECONDS,
            busy_for=timeouts.read,
        )
    return WaleadClient(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        timeouts=timeouts,
        call_log=call_log,
        request_guard=guard,
    )


@sensitive_variables("endpoint", "guard")
def woodpecker_client(
    *, call_log: CallLog | None = None, wait_seconds: float | None = None
) -> WoodpeckerClient:
    """Raises ProviderNotConfigured when Woodpecker has no key and the sandbox is off.

    Every request takes its turn on the key (one in flight per key, across processes),
    waiting at most ``wait_seconds`` (default: what a web page may wait), else KeyBusy.
    """
    endpoint = woodpecker_endpoint()
    timeouts = woodpecker_timeouts()
    guard = one_request_at_a_time(
        endpoint.api_key,
        provider="Woodpecker",
        wait_seconds=wait_seconds or settings.WOODPECKER_WEB_KEY_WAIT_SECONDS,
        busy_for=timeouts.read,
    )
    return WoodpeckerClient(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        timeouts=timeouts,
        call_log=call_log,
        request_guard=guard,
    )


@sensitive_variables("key")
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
