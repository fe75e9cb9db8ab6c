"""The address a request came from, as the audit records it.

Behind ``TRUSTED_PROXY_COUNT`` reverse proxies of ours, REMOTE_ADDR is the last proxy's
address, and each proxy appended the address it received the request from to
X-Forwarded-For. The client's address is therefore that many entries from the right:
whatever stands further left was written by the client itself, and may be forged.
"""

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address, or None when it cannot be told (never a proxy's)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return _valid(request.META.get("REMOTE_ADDR", ""))
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [hop for hop in forwarded if hop]
    if len(forwarded) < proxies:
        logger.warning(
            "X-Forwarded-For has %d entries, fewer than TRUSTED_PROXY_COUNT=%d: the client "
            "address is not recorded.",
            len(forwarded),
            proxies,
        )
        return None
    return _valid(forwarded[-proxies])


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None
