"""Audit log pages: the filtered list, one operation in full, and the CSV and JSONL exports.

Read-only: every view is a GET for people who may review the audit. The list works as a
plain GET form; with HTMX the same view returns only the ``#results`` fragment.
"""

import json
from collections.abc import Iterator

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import FETCH_RAISE
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from suppression_admin.audit.csv_export import csv_lines
from suppression_admin.audit.forms import AuditFilterForm, FindItemForm
from suppression_admin.audit.identifiers import normalised
from suppression_admin.audit.models import AccessKind, AccessRecord, Provider
from suppression_admin.audit.selectors import (
    EXACT,
    FIND_SCAN,
    item_ids_found,
    items_matching,
    operation_calls,
    operation_events,
    operation_items,
    operation_with_details,
    operations_filtered,
    person_items,
)
from suppression_admin.audit.serializers import jsonl_chunks
from suppression_admin.audit.services import access_record
from suppression_admin.client_address import client_address

can_review = permission_required("audit.review_audit", raise_exception=True)

LIST_TEMPLATE = "audit/operations.html"
PAGE_SIZE = 50
# The detail page of a bulk removal must not render a million rows.
ITEMS_PER_PAGE = 200
CALLS_PER_PAGE = 50
# Operations per database round trip while streaming an export (their items are read apart).
EXPORT_CHUNK_SIZE = 500
FILTERS_INVALID = "The filters are not valid, so nothing was exported. Fix them and try again."


@require_GET
@can_review
# One URL answers with a page or a fragment: caches (and the browser's back button) must
# not serve one for the other.
@vary_on_headers("HX-Request", "HX-Target")
def operations(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    page = None
    if form.is_valid():
        page = Paginator(operations_filtered(**form.filters()), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    context = {"form": form, "page": page}
    if request.htmx and request.htmx.target == "results":
        return render(request, f"{LIST_TEMPLATE}#results", context)
    return render(request, LIST_TEMPLATE, context)


@require_GET
@can_review
def operation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    operation = operation_with_details(pk)
    if operation is None:
        raise Http404("No audit operation with this number.")
    find = FindItemForm(request.GET)
    found = find.cleaned_data if find.is_valid() else {}
    wanted = found.get("find", "").strip()
    only, cut_short = (
        item_ids_found(operation, wanted, found.get("match") or EXACT) if wanted else (None, False)
    )
    items = Paginator(operation_items(operation, only=only), ITEMS_PER_PAGE)
    calls = Paginator(operation_calls(operation), CALLS_PER_PAGE)
    # The stored counts: counting a million items on every view is what they are for.
    # (A search within the operation counts only what it found.)
    if not wanted:
        items.count = operation.item_total
    calls.count = operation.call_total
    events = list(operation_events(operation))
    context = {
        "operation": operation,
        # Every job records at least its request: the job's page exists (same number).
        "has_job": bool(events),
        "events": events,
        "find": find,
        "find_cut_short": cut_short,
        "find_scan": FIND_SCAN,
        "items": items.get_page(request.GET.get("items_page")),
        "calls": calls.get_page(request.GET.get("calls_page")),
        "source_detail": json.dumps(operation.source_detail, indent=2, sort_keys=True)
        if operation.source_detail
        else "",
    }
    return render(request, "audit/operation_detail.html", context)


@require_GET
@can_review
def export_csv(request: HttpRequest) -> HttpResponse:
    """Stream the filtered list as CSV, one row per item, in flat memory (``bom=1``: with
    the byte-order mark Excel needs to read UTF-8)."""
    return _export(request, "csv")


@require_GET
@can_review
def export_jsonl(request: HttpRequest) -> HttpResponse:
    """Stream the filtered list as JSON Lines, one operation per line, item by item."""
    return _export(request, "jsonl")


def _export(request: HttpRequest, kind: str) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        # Exporting everything when the reviewer asked for a subset would be worse than nothing.
        return HttpResponse(
            f"{FILTERS_INVALID} {form.errors_text()}",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    filters = form.filters()
    operations = operations_filtered(**filters).iterator(chunk_size=EXPORT_CHUNK_SIZE)
    # An identifier search exports the matching items, unless every item was asked for.
    all_items = request.GET.get("all_items") == "1"
    items = None
    if filters["identifier"].strip() and not all_items:
        items = items_matching(filters["identifier"], filters["match"])
    access_record(
        AccessKind.AUDIT_EXPORT,
        {
            "format": kind,
            "filters": {name: str(value) for name, value in filters.items() if value},
            "every_item_of_matching_operations": all_items,
        },
        actor=request.user,
        client_ip=client_address(request),
    )
    if kind == "csv":
        lines = csv_lines(operations, items=items, bom=request.GET.get("bom") == "1")
        content_type = "text/csv; charset=utf-8"
    else:
        lines = jsonl_chunks(operations, items=items)
        content_type = "application/jsonl; charset=utf-8"
    response = StreamingHttpResponse(_encoded(lines), content_type=content_type)
    filename = f"audit-{timezone.now():%Y%m%d-%H%M%S}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _encoded(pieces: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """The text in blocks of about ``size`` bytes: a million one-line chunks would each cost
    a write to the client."""
    buffer: list[str] = []
    held = 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(buffer).encode()
            buffer, held = [], 0
    if buffer:
        yield "".join(buffer).encode()


@require_GET
@can_review
def access_log(request: HttpRequest) -> HttpResponse:
    """Who saw personal data in bulk: exports, downloads, people's histories; newest first."""
    kind = request.GET.get("kind", "")
    records = AccessRecord.objects.order_by("-at", "-id")
    if kind in AccessKind.values:
        records = records.filter(kind=kind)
    page = Paginator(records.fetch_mode(FETCH_RAISE), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "kinds": AccessKind.choices, "kind": kind}
    return render(request, "audit/access_log.html", context)


PERSON_ITEMS_PER_PAGE = 100


@require_GET
@can_review
def person(request: HttpRequest, identifier: str) -> HttpResponse:
    """Every operation that touched this email or LinkedIn identifier, oldest first."""
    key = normalised(identifier)
    if not key:
        raise Http404("No identifier given.")
    page = Paginator(person_items(identifier), PERSON_ITEMS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    access_record(
        AccessKind.PERSON,
        {"identifier": key},
        actor=request.user,
        client_ip=client_address(request),
    )
    # WaLead is asked by public identifier: the one the history knows this person by
    # (reached by a lead id, the key is that id, which WaLead's search does not know).
    slugs = [item.label for item in page.object_list if item.operation.provider == Provider.WALEAD]
    context = {
        "key": key,
        "page": page,
        "check_email": key if "@" in key else "",
        "check_lead": "" if "@" in key else next((s for s in slugs if s), ""),
    }
    return render(request, "audit/person.html", context)
