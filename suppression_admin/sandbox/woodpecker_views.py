"""The sandbox Woodpecker: /v2/blacklist/emails (list/look up, remove, add).

Per shared/PROVIDERS.md and the DELETE page in shared/seeds:
- GET ``?page=P&per_page=N&email_filter=a@x.com,b*@y.com``: ``{"emails": [...], "total": n}``;
  page is 0-based, per_page defaults to 100 and is at most 500; each filter term matches an
  address exactly (case-insensitively) or, with ``*``, as a wildcard; ``total`` counts matches.
- DELETE, body ``{"emails": [...]}`` (at most 500): answers only the addresses that were on the
  blacklist and got removed; invalid ones are silently left out.
- POST, same body: adds the valid ones and answers every sent (valid) address, now blacklisted.
Addresses in answers are spelled as the caller sent them; the blacklist stores them lowercased.
Errors are ``{"title", "status", "detail", "timestamp"}`` with a ``YYYY-MM-DD HH:MM:SS`` UTC
timestamp. A request URL longer than MAX_URL_LENGTH is answered 414; per API key one request
is processed at a time (see ratelimit.py), others queue or are answered 429.
"""

import logging
import re
import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from suppression_admin.sandbox import ratelimit
from suppression_admin.sandbox.guards import (
    BadBody,
    json_body,
    key_is_valid,
    sandbox_only,
    sent_api_key,
)
from suppression_admin.sandbox.models import SandboxBlacklistedEmail

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 4100
MAX_ELEMENTS = 500
DEFAULT_PER_PAGE = 100

TOO_MANY = "You can proceed with up to 500 elements in one request"
EMPTY = "Emails parameter can not be empty"
INCORRECT = "Value of emails is incorrect."


class BadRequest(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "DELETE", "POST"])
@sandbox_only
def blacklist_emails(request: HttpRequest) -> HttpResponse:
    # The URL limit is checked before anything else, as a front proxy would.
    if len(request.build_absolute_uri()) > MAX_URL_LENGTH:
        return error(414, f"Request URL is longer than {MAX_URL_LENGTH} characters")
    if not key_is_valid(request):
        return error(401, "Invalid api key", title="Unauthorized")
    with ratelimit.limiter_for(sent_api_key(request)).slot() as admitted:
        if not admitted:
            return error(429, "Only one request is processed at a time; the queue is full")
        latency_ms = getattr(settings, "SANDBOX_WOODPECKER_LATENCY_MS", 0)
        if latency_ms:
            time.sleep(latency_ms / 1000)
        try:
            return _handle(request)
        except BadRequest as bad:
            return error(400, bad.detail)
        except DatabaseError:
            logger.exception("Sandbox Woodpecker failed on the database")
            return error(500, "An unexpected error has occurred. Please try again later.")


def _handle(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _list(request)
    sent = _sent_emails(request)
    valid = _valid_by_key(sent)
    with transaction.atomic():
        existing = set(
            SandboxBlacklistedEmail.objects.filter(email__in=list(valid)).values_list(
                "email", flat=True
            )
        )
        if request.method == "DELETE":
            SandboxBlacklistedEmail.objects.filter(email__in=existing).delete()
            return JsonResponse({"emails": [valid[key] for key in valid if key in existing]})
        SandboxBlacklistedEmail.objects.bulk_create(
            [SandboxBlacklistedEmail(email=key) for key in valid if key not in existing],
            batch_size=500,
        )
        return JsonResponse({"emails": list(valid.values())})


def _list(request: HttpRequest) -> HttpResponse:
    page = _int_param(request, "page", default=0, minimum=0)
    per_page = _int_param(request, "per_page", default=DEFAULT_PER_PAGE, minimum=1)
    if per_page > MAX_ELEMENTS:
        raise BadRequest(TOO_MANY)
    rows = SandboxBlacklistedEmail.objects.all()
    email_filter = request.GET.get("email_filter", "")
    if email_filter.strip():
        rows = rows.filter(filter_query(email_filter))
    total = rows.count()
    start = page * per_page
    emails = list(rows.order_by("id").values_list("email", flat=True)[start : start + per_page])
    return JsonResponse({"emails": emails, "total": total})


def filter_query(email_filter: str) -> Q:
    """Comma-separated terms: exact (case-insensitive) addresses, or ``*`` wildcard patterns.

    A pattern becomes an anchored regex of escaped literal parts joined by ``.*``, so no other
    character of the term (``.``, ``+``, ``%``, ``_``) acts as a wildcard.
    """
    exact: set[str] = set()
    query = Q()
    for term in (part.strip().lower() for part in email_filter.split(",")):
        if not term:
            continue
        if "*" in term:
            literal_parts = [re.escape(part) for part in re.split(r"\*+", term)]
            query |= Q(email__regex=f"^{'.*'.join(literal_parts)}$")
        else:
            exact.add(term)
    if exact:
        query |= Q(email__in=exact)
    return query


def _int_param(request: HttpRequest, name: str, *, default: int, minimum: int) -> int:
    text = request.GET.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < minimum:
        raise BadRequest(f"Value of {name} is incorrect.")
    return int(text)


def _sent_emails(request: HttpRequest) -> list[str]:
    """The ``emails`` list of a DELETE/POST body, or BadRequest with the documented detail."""
    try:
        body: Any = json_body(request)
    except BadBody as err:
        raise BadRequest(INCORRECT) from err
    if not isinstance(body, dict):
        raise BadRequest(INCORRECT)
    emails = body.get("emails")
    if emails is None or emails == [] or emails == "":
        raise BadRequest(EMPTY)
    if not isinstance(emails, list) or not all(isinstance(item, str) for item in emails):
        raise BadRequest(INCORRECT)
    if len(emails) > MAX_ELEMENTS:
        raise BadRequest(TOO_MANY)
    return emails


def _valid_by_key(emails: list[str]) -> dict[str, str]:
    """Valid addresses keyed by their lowercased form, spelled as first sent; invalid dropped."""
    valid: dict[str, str] = {}
    for email in emails:
        key = email.strip().lower()
        if key in valid:
            continue
        try:
            validate_email(key)
        except ValidationError:
            continue
        valid[key] = email
    return valid


def error(status: int, detail: str, *, title: str | None = None) -> JsonResponse:
    """Woodpecker's documented error body."""
    if title is None:
        title = "Internal server error" if status == 500 else HTTPStatus(status).phrase
    timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    body = {"title": title, "status": status, "detail": detail, "timestamp": timestamp}
    return JsonResponse(body, status=status)
