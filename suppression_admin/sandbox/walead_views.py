"""The sandbox WaLead: /v1/blocked-leads (list, unblock, block), per shared/PROVIDERS.md.

- GET ``?sort=ASC|DESC&offset=N&search=TEXT``: a JSON array of
  ``{id, publicIdentifier, reason, createdAt, workspaceId}``, at most WALEAD_PAGE_SIZE rows,
  ordered by created_at then id; ``search`` is a case-insensitive substring of the public
  identifier. The page size is the server's choice: callers page until a page is empty.
- DELETE, body a JSON array of ids: unblocks the ones that exist and answers
  ``{"success": true, "message": "N leads unblocked", "unblocked": N}``.
- POST, body ``{"leads": [{"publicIdentifier": str, "reason": str?}]}``: blocks the ones not
  blocked yet and answers ``{"success": true, "message": ..., "blocked": N}``.
Every error is ``{"success": false, "message": ...}`` (WaLead does not document its shape).
"""

import time
from datetime import UTC
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from suppression_admin.sandbox.guards import BadBody, json_body, key_is_valid, sandbox_only
from suppression_admin.sandbox.models import (
    SANDBOX_WORKSPACE_ID,
    SandboxBlockedLead,
    new_lead_id,
)

WALEAD_PAGE_SIZE = 25
MAX_IDENTIFIER_LENGTH = 200
MAX_REASON_LENGTH = 200


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "DELETE", "POST"])
@sandbox_only
def blocked_leads(request: HttpRequest) -> HttpResponse:
    if not key_is_valid(request):
        return _error(401, "Unauthorized")
    if request.method == "GET":
        return _list(request)
    if request.method == "DELETE":
        return _unblock(request)
    return _block(request)


def _list(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort") or "DESC"
    if sort not in ("ASC", "DESC"):
        return _error(400, "sort must be ASC or DESC")
    offset_text = request.GET.get("offset") or "0"
    if not offset_text.isdigit():
        return _error(400, "offset must be a non-negative integer")
    offset = int(offset_text)
    rows = SandboxBlockedLead.objects.all()
    search = request.GET.get("search", "").strip()
    if search:
        rows = rows.filter(public_identifier__icontains=search)
    order = ["created_at", "id"] if sort == "ASC" else ["-created_at", "-id"]
    page = rows.order_by(*order)[offset : offset + WALEAD_PAGE_SIZE]
    return JsonResponse([lead_json(lead) for lead in page], safe=False)


def _unblock(request: HttpRequest) -> HttpResponse:
    latency_ms = getattr(settings, "SANDBOX_WALEAD_LATENCY_MS", 0)
    if latency_ms:
        time.sleep(latency_ms / 1000)  # as a remote provider would take
    try:
        ids = json_body(request)
    except BadBody:
        return _error(400, "Body must be a JSON array of blocked lead ids")
    if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
        return _error(400, "Body must be a JSON array of blocked lead ids")
    if not ids:
        return _error(400, "No blocked lead ids given")
    unblocked, _ = SandboxBlockedLead.objects.filter(id__in=set(ids)).delete()
    return JsonResponse(
        {"success": True, "message": f"{unblocked} leads unblocked", "unblocked": unblocked}
    )


def _block(request: HttpRequest) -> HttpResponse:
    try:
        body = json_body(request)
    except BadBody:
        return _error(400, "Body must be JSON")
    leads = body.get("leads") if isinstance(body, dict) else None
    if not isinstance(leads, list) or not leads:
        return _error(400, "leads must be a non-empty array")
    wanted: dict[str, tuple[str, str | None]] = {}  # lowercased slug -> (slug, reason)
    for lead in leads:
        parsed = _parse_lead(lead)
        if parsed is None:
            return _error(400, "Each lead needs a publicIdentifier and an optional reason")
        wanted.setdefault(parsed[0].lower(), parsed)
    with transaction.atomic():
        # LinkedIn slugs are case-insensitive, so "John-Doe" is already blocked as "john-doe".
        already = set(
            SandboxBlockedLead.objects.annotate(slug=Lower("public_identifier"))
            .filter(slug__in=list(wanted))
            .values_list("slug", flat=True)
        )
        now = timezone.now()
        fresh = [
            SandboxBlockedLead(
                id=new_lead_id(now),
                public_identifier=slug,
                reason=reason,
                created_at=now,
                workspace_id=SANDBOX_WORKSPACE_ID,
            )
            for key, (slug, reason) in wanted.items()
            if key not in already
        ]
        SandboxBlockedLead.objects.bulk_create(fresh, batch_size=500)
    return JsonResponse(
        {"success": True, "message": f"{len(fresh)} leads blocked", "blocked": len(fresh)}
    )


def _parse_lead(lead: Any) -> tuple[str, str | None] | None:
    """(slug, reason) from one ``leads`` entry, or None when it is malformed."""
    if not isinstance(lead, dict):
        return None
    slug, reason = lead.get("publicIdentifier"), lead.get("reason")
    if not isinstance(slug, str) or not slug.strip() or len(slug) > MAX_IDENTIFIER_LENGTH:
        return None
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH):
        return None
    return slug.strip(), (reason.strip() or None) if reason else None


def lead_json(lead: SandboxBlockedLead) -> dict[str, Any]:
    """One lead as WaLead shows it: camelCase keys, createdAt in ISO 8601 UTC with Z."""
    created = lead.created_at.astimezone(UTC)
    return {
        "id": lead.id,
        "publicIdentifier": lead.public_identifier,
        "reason": lead.reason,
        "createdAt": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "workspaceId": lead.workspace_id,
    }


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"success": False, "message": message}, status=status)
