"""Woodpecker pages: searching the blacklist (woodpecker.search), one address's status."""

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from suppression_admin import provider_checks
from suppression_admin.accounts.access import reviewer_or_operator
from suppression_admin.connections import woodpecker_client
from suppression_admin.providers.errors import ProviderError, ProviderNotConfigured
from suppression_admin.woodpecker.search import SearchInvalid, blacklist_search
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
    template = "woodpecker/blacklist.html"
    if request.htmx and request.htmx.target == "results":
        template += "#results"
    return render(request, template, context)


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
