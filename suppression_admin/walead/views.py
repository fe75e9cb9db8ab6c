"""WaLead pages: browse blocked leads, select, confirm, unblock, see the result.

Every form works as a plain form (POST, then redirect); with HTMX the same views return the
fragment that changed.
"""

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from suppression_admin import provider_checks
from suppression_admin.accounts.access import reviewer_or_operator
from suppression_admin.audit.models import Operation, Provider, Source
from suppression_admin.client_address import client_address
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.services import RetryRefused, job_retry_check
from suppression_admin.providers.errors import ProviderError, ProviderNotConfigured
from suppression_admin.walead import selection
from suppression_admin.walead.forms import BrowseForm, UnblockForm
from suppression_admin.walead.search import (
    PAGE_SIZE,
    LeadsPage,
    Search,
    SearchInvalid,
    leads_search_all,
    leads_search_page,
    search_read,
)
from suppression_admin.walead.services import (
    LeadSnapshot,
    UnblockRequestInvalid,
    lead_blocked,
    leads_for_retry,
    leads_unblock,
)

can_unblock = permission_required("audit.perform_unblock", raise_exception=True)

PAGE_TEMPLATE = "walead/blocked_leads.html"
TYPED_KEY = "walead_confirm_typed"
MIN_CHECKED_SLUG = 3
ALREADY_SENT = "This unblock was already sent: nothing was sent again. Here is its job."
SELECTION_CHANGED = (
    "The selection changed since this confirmation was shown (another tab?). Review it again."
)


@require_GET
@can_unblock
def blocked_leads(request: HttpRequest) -> HttpResponse:
    browse = BrowseForm(request.GET)
    search, sort, offset = browse.values()
    context = _page_context(
        request, search=search, sort=sort, offset=offset, hide=browse.hides_opt_outs()
    )
    if request.htmx and request.htmx.target == "results":
        return render(request, f"{PAGE_TEMPLATE}#results", context)
    return render(request, PAGE_TEMPLATE, context)


@require_POST
@can_unblock
def selection_update(request: HttpRequest) -> HttpResponse:
    """Make the selection's part on the posted page match its ticked boxes."""
    selection.replace_on_page(
        request.session,
        page_ids=request.POST.getlist("page_id"),
        checked=request.POST.getlist("lead"),
    )
    if request.htmx:
        return render(request, f"{PAGE_TEMPLATE}#selection_bar", _selection_context(request))
    return redirect(_back_to_list(request))


@require_POST
@can_unblock
def selection_add_matching(request: HttpRequest) -> HttpResponse:
    """Select every lead the search finds (but the opted-out, when they are hidden), on
    every page."""
    browse = BrowseForm(request.POST)
    search, sort, _ = browse.values()
    try:
        read = search_read(search)
        leads = _shown(leads_search_all(read, sort=sort), hide=browse.hides_opt_outs())
    except (SearchInvalid, ProviderError, ProviderNotConfigured) as error:
        messages.error(request, f"Could not select all matching leads: {error}")
    else:
        selection.remember(request.session, leads)
        selection.add(request.session, [lead.id for lead in leads])
        messages.success(request, _selected_message(len(leads), search, read, browse))
    return redirect(_back_to_list(request))


@require_GET
@can_unblock
def matching_count(request: HttpRequest) -> HttpResponse:
    """The "select all N matching" button, with N counted by reading the whole search.

    Loaded lazily by the results fragment once typing pauses, so a keystroke never pages
    through the whole list.
    """
    browse = BrowseForm(request.GET)
    search, sort, offset = browse.values()
    hide = browse.hides_opt_outs()
    page_end = _int(request.GET.get("page_end"), offset)
    context = {
        "search": search,
        "sort": sort,
        "offset": offset,
        "hide_opt_outs": hide,
        "page_end": page_end,
        "counted_now": True,  # the page's range and Next follow (out of band)
        "next_shown": request.GET.get("next_shown") == "1",
        "hidden_count": _int(request.GET.get("hidden"), 0),
    }
    try:
        read = search_read(search)
        matching = leads_search_all(read, sort=sort)
        context["matching_count"] = len(_shown(matching, hide=hide))
        context["total"] = len(matching)
        context["search"] = _as_read(search, read)
    except (SearchInvalid, ProviderError, ProviderNotConfigured) as error:
        context["count_error"] = str(error)
    return render(request, f"{PAGE_TEMPLATE}#select_all_matching", context)


@require_POST
@can_unblock
def selection_clear(request: HttpRequest) -> HttpResponse:
    selection.clear(request.session)
    return redirect(_back_to_list(request))


@require_POST
@can_unblock
def selection_exclude(request: HttpRequest) -> HttpResponse:
    """From the confirmation: take one lead (``drop``) or every opted-out one (``opt_outs``)
    out of the selection, then confirm what is left."""
    leads = selection.selected_leads(request.session)
    if request.POST.get("opt_outs"):
        gone = [lead for lead in leads if lead.looks_like_opt_out]
        people = "person" if len(gone) == 1 else "people"
        what = f"the {len(gone):,} {people} who asked not to be contacted"
    else:
        gone = [lead for lead in leads if lead.id == request.POST.get("drop")]
        what = gone[0].public_identifier if gone else "nobody"
    selection.discard(request.session, [lead.id for lead in gone])
    request.session[TYPED_KEY] = {
        "reason": request.POST.get("reason", "")[:2000],
        "ticket": request.POST.get("ticket", "")[:200],
    }
    if gone:
        messages.info(request, f"Left out {what}; nothing was sent.")
    confirm = reverse("walead:unblock_confirm")
    if retry_of := _retried_job(request.POST.get("retry_of")):
        confirm += f"?{urlencode({'retry_of': retry_of.pk})}"
    return redirect(confirm)


@require_GET
@can_unblock
def unblock_confirm(request: HttpRequest) -> HttpResponse:
    leads = selection.selected_leads(request.session)
    if not leads:
        messages.info(request, "Select at least one lead to unblock.")
        return redirect("walead:blocked_leads")
    initial = {"token": uuid.uuid4().hex, "lead": [lead.id for lead in leads]}
    if retry_of := _retried_job(request.GET.get("retry_of")):
        # A retry starts from the first job's reason and ticket (the operator may edit them).
        initial |= {
            "retry_of": retry_of.pk,
            "reason": retry_of.operation.reason,
            "ticket": retry_of.operation.ticket,
        }
    # Typed before leaving some leads out (selection_exclude): kept.
    initial |= {name: text for name, text in request.session.pop(TYPED_KEY, {}).items() if text}
    form = UnblockForm(
        initial=initial,
        lead_ids=[lead.id for lead in leads],
        needs_ack=any(lead.looks_like_opt_out for lead in leads),
    )
    return render(request, "walead/confirm.html", _confirm_context(leads, form))


@require_POST
@can_unblock
def unblock_submit(request: HttpRequest) -> HttpResponse:
    posted_ids = request.POST.getlist("lead")
    leads = [lead for lead_id in posted_ids if (lead := selection.known(request.session, lead_id))]
    form = UnblockForm(
        request.POST,
        lead_ids=[lead.id for lead in leads],
        needs_ack=any(lead.looks_like_opt_out for lead in leads),
    )
    if len(leads) != len(posted_ids):
        form.add_error(None, SELECTION_CHANGED)
    if not form.is_valid():
        return render(request, "walead/confirm.html", _confirm_context(leads, form), status=400)
    earlier = Operation.objects.filter(idempotency_key=form.cleaned_data["token"]).first()
    if earlier is not None:
        messages.info(request, ALREADY_SENT)
        return redirect("jobs:detail", pk=earlier.pk)

    try:
        operation = leads_unblock(
            actor=request.user,
            leads=leads,
            reason=form.cleaned_data["reason"],
            ticket=form.cleaned_data["ticket"],
            source=Source.WEB,
            source_detail={"page": reverse("walead:blocked_leads")},
            client_ip=client_address(request),
            user_agent=request.headers.get("User-Agent", ""),
            idempotency_key=form.cleaned_data["token"],
            retry_of=_retried_job(form.cleaned_data.get("retry_of")),
        )
    except (UnblockRequestInvalid, ProviderNotConfigured) as error:
        form.add_error(None, str(error))
        return render(request, "walead/confirm.html", _confirm_context(leads, form), status=400)
    selection.discard(request.session, [lead.id for lead in leads])
    return redirect("jobs:detail", pk=operation.pk)


@require_GET
@can_unblock
def operation_result(request: HttpRequest, pk: int) -> HttpResponse:
    """Where an unblock's result used to be: its job's page now."""
    get_object_or_404(Operation, pk=pk, provider=Provider.WALEAD)
    return redirect("jobs:detail", pk=pk)


@require_POST
@can_unblock
def unblock_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """The leads a finished job did not send (or could not settle) become the selection, and
    go through the same confirmation."""
    job = get_object_or_404(
        Job.objects.select_related("operation"), pk=pk, provider=Provider.WALEAD
    )
    try:
        job_retry_check(job)
    except RetryRefused as refused:
        messages.info(request, str(refused))
        return redirect("jobs:detail", pk=refused.retry.pk if refused.retry else job.pk)
    leads = leads_for_retry(job)
    selection.remember(request.session, leads)
    selection.clear(request.session)
    selection.add(request.session, [lead.id for lead in leads])
    messages.info(
        request, f"Your selection now holds the {len(leads)} leads of job #{job.pk} to retry."
    )
    return redirect(f"{reverse('walead:unblock_confirm')}?{urlencode({'retry_of': job.pk})}")


def _retried_job(value: object) -> Job | None:
    try:
        pk = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return Job.objects.select_related("operation").filter(pk=pk, provider=Provider.WALEAD).first()


def _int(text: str | None, default: int) -> int:
    try:
        return max(int(text or ""), 0)
    except ValueError:
        return default


def _selected_message(count: int, search: str, read: Search, browse: BrowseForm) -> str:
    if read.checks:
        what = f"the {count:,} exact matches of the identifiers checked"
    elif read.terms:
        what = f"all {count:,} leads matching “{search}”"
    else:
        what = f"all {count:,} leads on the blocked list"
    if browse.hides_opt_outs():
        what += " who did not ask not to be contacted"
    return f"Selected {what}."


def _as_read(search: str, read: Search) -> str:
    """The search as the page names it: nothing when it holds no text to search for."""
    return search if read.terms else ""


def _shown(leads: list[LeadSnapshot], *, hide: bool) -> list[LeadSnapshot]:
    return [lead for lead in leads if not lead.looks_like_opt_out] if hide else leads


def _page_context(
    request: HttpRequest, *, search: str, sort: str, offset: int, hide: bool = False
) -> dict:
    try:
        read = search_read(search)
    except SearchInvalid as error:
        read, search_error = None, str(error)
    else:
        search, search_error = _as_read(search, read), ""
    context = {
        "search": search,
        "sort": sort,
        "offset": offset,
        "hide_opt_outs": hide,
        "list_query": urlencode(
            {"search": search, "sort": sort, **({"hide_opt_outs": "1"} if hide else {})}
        ),
        "rows": [],
        "error": "",
        "search_error": search_error,
    }
    if read is None:
        return context | _selection_context(request)
    try:
        page = leads_search_page(read, sort=sort, offset=offset)
    except ProviderNotConfigured as error:
        return context | {"not_configured": str(error)} | _selection_context(request)
    except ProviderError as error:
        context["error"] = error.message
        page = LeadsPage(leads=[], offset=offset)
    selection.remember(request.session, page.leads)
    chosen = set(selection.selected_ids(request.session))
    shown = _shown(page.leads, hide=hide)
    if page.every is not None:
        context.update(total=page.total, matching_count=len(_shown(page.selectable, hide=hide)))
    context.update(
        page=page,
        rows=[(lead, lead.id in chosen) for lead in shown],
        hidden_count=len(page.leads) - len(shown),
        all_on_page_selected=bool(shown) and all(lead.id in chosen for lead in shown),
        page_end=page.end,
        next_offset=page.end if page.has_next else None,
        prev_offset=max(0, offset - PAGE_SIZE) if offset > 0 else None,
    )
    return context | _selection_context(request)


def _selection_context(request: HttpRequest) -> dict:
    leads = selection.selected_leads(request.session)
    # Said in the bar: hidden from the list or on another page, they are still selected.
    opt_outs = sum(1 for lead in leads if lead.looks_like_opt_out)
    return {
        "selected_count": len(leads),
        "selected_note": f"{opt_outs:,} of them asked not to be contacted" if opt_outs else "",
    }


def _confirm_context(leads: list[LeadSnapshot], form: UnblockForm) -> dict:
    opt_outs = [lead for lead in leads if lead.looks_like_opt_out]
    return {
        "form": form,
        "leads": sorted(leads, key=lambda lead: not lead.looks_like_opt_out),
        "opt_out_count": len(opt_outs),
    }


def _back_to_list(request: HttpRequest) -> str:
    browse = BrowseForm(request.POST)
    search, sort, offset = browse.values()
    hide = {"hide_opt_outs": "1"} if browse.hides_opt_outs() else {}
    query = urlencode({"search": search, "sort": sort, "offset": offset, **hide})
    return f"{reverse('walead:blocked_leads')}?{query}"


@require_GET
@reviewer_or_operator
def blocked_check(request: HttpRequest) -> HttpResponse:
    """Is this lead blocked now? (A fragment, for a person's audit page.)"""
    slug = request.GET.get("lead", "").strip()[:320]
    return provider_checks.blocked_check(
        request,
        provider="WaLead",
        who=slug,
        where="as blocked",
        # WaLead's search matches parts: a short one would page through the whole list.
        refused=""
        if len(slug) >= MIN_CHECKED_SLUG
        else "Give a lead's whole LinkedIn public identifier to look up.",
        ask=lead_blocked,
    )
