"""Audit log pages: the filtered list, one operation in full, and the CSV export.

Read-only: every view is a GET for people who may review the audit. The list works as a
plain GET form; with HTMX the same view returns only the ``#results`` fragment.
"""

import json

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from suppression_admin.audit.csv_export import csv_lines
from suppression_admin.audit.forms import AuditFilterForm
from suppression_admin.audit.selectors import (
    operation_calls,
    operation_events,
    operation_items,
    operation_with_details,
    operations_filtered,
    operations_with_items,
)

can_review = permission_required("audit.review_audit", raise_exception=True)

LIST_TEMPLATE = "audit/operations.html"
PAGE_SIZE = 50
# The detail page of a bulk removal must not render a million rows.
ITEMS_PER_PAGE = 200
CALLS_PER_PAGE = 50
# Operations per database round trip while streaming the CSV (items prefetched per chunk).
EXPORT_CHUNK_SIZE = 200
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
    items = Paginator(operation_items(operation), ITEMS_PER_PAGE).get_page(
        request.GET.get("items_page")
    )
    calls = Paginator(operation_calls(operation), CALLS_PER_PAGE).get_page(
        request.GET.get("calls_page")
    )
    events = list(operation_events(operation))
    context = {
        "operation": operation,
        # Every job records at least its request: the job's page exists (same number).
        "has_job": bool(events),
        "events": events,
        "items": items,
        "calls": calls,
        "source_detail": json.dumps(operation.source_detail, indent=2, sort_keys=True)
        if operation.source_detail
        else "",
    }
    return render(request, "audit/operation_detail.html", context)


@require_GET
@can_review
def export_csv(request: HttpRequest) -> HttpResponse:
    """Stream the filtered list as CSV, one row per item, without holding it in memory."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        # Exporting everything when the reviewer asked for a subset would be worse than nothing.
        errors = "; ".join(error for errors in form.errors.values() for error in errors)
        return HttpResponse(
            f"{FILTERS_INVALID} {errors}", status=400, content_type="text/plain; charset=utf-8"
        )
    chosen = operations_with_items(operations_filtered(**form.filters()))
    response = StreamingHttpResponse(
        csv_lines(chosen.iterator(chunk_size=EXPORT_CHUNK_SIZE)),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"audit-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
