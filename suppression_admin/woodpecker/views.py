"""Woodpecker pages: searching the blacklist (woodpecker.search), one address's status."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from suppression_admin import provider_checks
from suppression_admin.accounts.access import reviewer_or_operator
from suppression_admin.connections import woodpecker_client
from suppression_admin.providers.errors import ProviderError, ProviderNotConfigured
from suppression_admin.woodpecker import selection
from suppression_admin.woodpecker.search import SearchInvalid, blacklist_matches, blacklist_search
from suppression_admin.woodpecker.services import email_on_blacklist


class BlacklistSearchForm(forms.Form):
    email_filter = forms.CharField(required=False, max_length=100_000, strip=True)
    page = forms.IntegerField(required=False, min_value=0, max_value=1_000_000)


@require_GET
@permission_required("audit.perform_unblock", raise_exception=True)
def blacklist(request: HttpRequest) -> HttpResponse:
    form = BlacklistSearchForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    email_filter, page = data.get("email_filter") or "", data.get("page") or 0
    context: dict = {"email_filter": email_filter, "page": page, "result": None, "error": ""}
    if not form.is_valid():
        context["error"] = "; ".join(error for errors in form.errors.values() for error in errors)
    else:
        try:
            client = woodpecker_client()
        except ProviderNotConfigured as error:
            context["not_configured"] = str(error)
        else:
            try:
                context["result"] = blacklist_search(client, email_filter, page=page)
            except SearchInvalid as invalid:
                context["invalid"] = str(invalid)
            except ProviderError as error:
                context["error"] = error.message
            finally:
                client.close()
    chosen = set(selection.selected(request.session))
    if context["result"] is not None:
        context["rows"] = [(email, email in chosen) for email in context["result"].emails]
        context["can_select_all"] = (
            len(context["result"].emails) < context["result"].total <= selection.MAX_SELECTED
        )
    context |= _bar_context(request)
    template = "woodpecker/blacklist.html"
    if request.htmx and request.htmx.target == "results":
        template += "#results"
    return render(request, template, context)


@require_POST
@permission_required("audit.perform_unblock", raise_exception=True)
def blacklist_selection(request: HttpRequest) -> HttpResponse:
    """Make the selection's part on the posted page match its ticked boxes."""
    selection.replace_on_page(
        request.session,
        page=request.POST.getlist("page_email"),
        checked=request.POST.getlist("email"),
    )
    if request.htmx:
        return render(request, "woodpecker/blacklist.html#selection_bar", _bar_context(request))
    return redirect(_back(request))


@require_POST
@permission_required("audit.perform_unblock", raise_exception=True)
def blacklist_select_matching(request: HttpRequest) -> HttpResponse:
    """Select every address the search matches (up to MAX_SELECTED), across its pages."""
    email_filter = request.POST.get("email_filter", "")
    try:
        client = woodpecker_client()
        try:
            emails = blacklist_matches(client, email_filter, limit=selection.MAX_SELECTED)
        finally:
            client.close()
    except SearchInvalid as invalid:
        messages.error(request, str(invalid))
    except (ProviderError, ProviderNotConfigured) as error:
        messages.error(request, f"Could not select the matching addresses: {error}")
    else:
        held = selection.add(request.session, emails)
        messages.success(request, f"Selected {len(emails):,} matching addresses ({held:,} in all).")
    return redirect(_back(request))


@require_POST
@permission_required("audit.perform_unblock", raise_exception=True)
def blacklist_selection_clear(request: HttpRequest) -> HttpResponse:
    selection.clear(request.session)
    return redirect(_back(request))


def _bar_context(request: HttpRequest) -> dict:
    return {
        "selected_count": len(selection.selected(request.session)),
        "action_url": reverse("woodpecker:removal_selected"),
        "action_method": "post",
        "clear_url": reverse("woodpecker:blacklist_selection_clear"),
    }


def _back(request: HttpRequest) -> str:
    query = {"email_filter": request.POST.get("email_filter", "")}
    if page := request.POST.get("page", "").strip():
        query["page"] = page
    return f"{reverse('woodpecker:blacklist')}?{urlencode(query)}"


@require_GET
@reviewer_or_operator
def blacklist_check(request: HttpRequest) -> HttpResponse:
    """Is this one address on the blacklist now? (A fragment, for a person's audit page.)"""
    email = request.GET.get("email", "").strip()[:320]
    return provider_checks.blocked_check(
        request,
        provider="Woodpecker",
        who=email,
        where="on its blacklist",
        refused="" if "@" in email else "Give one whole email address to look up.",
        ask=email_on_blacklist,
    )
