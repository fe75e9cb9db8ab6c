"""What both sandbox providers share: the on/off switch, the key check, JSON body parsing.

Settings are read on every request (never at import), so tests can switch them per test.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils.crypto import constant_time_compare

View = Callable[..., HttpResponse]


class BadBody(Exception):
    """The request body is not JSON."""


def sandbox_only(view: View) -> View:
    """404 unless settings.SUPPRESSION_SANDBOX is on: a production deployment has no sandbox.

    A bare 404 (not Http404), so the answer never depends on the site's templates.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(settings, "SUPPRESSION_SANDBOX", False):
            return HttpResponseNotFound(b"Not Found", content_type="text/plain")
        return view(request, *args, **kwargs)

    return wrapper


def sent_api_key(request: HttpRequest) -> str:
    return request.headers.get("x-api-key", "")


def key_is_valid(request: HttpRequest) -> bool:
    """True when the x-api-key header equals settings.SANDBOX_API_KEY (never an empty key)."""
    expected = getattr(settings, "SANDBOX_API_KEY", "")
    sent = sent_api_key(request)
    return bool(expected) and constant_time_compare(sent, expected)


def json_body(request: HttpRequest) -> Any:
    """The decoded JSON body; raises BadBody when it is empty or not JSON."""
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise BadBody from err
