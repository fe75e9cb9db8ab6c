"""Asking a provider now whether one person is blocked: the fragment a person's audit page
shows. Each provider's view says how to ask; recording the check and telling the answer
(or why there is none) is the same for both."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from suppression_admin.audit.models import AccessKind
from suppression_admin.audit.services import access_record
from suppression_admin.client_address import client_address
from suppression_admin.providers.errors import ProviderError, ProviderNotConfigured

TEMPLATE = "_blocked_check.html"


def blocked_check(
    request: HttpRequest,
    *,
    provider: str,
    who: str,
    where: str,
    refused: str,
    ask: Callable[[str], bool],
) -> HttpResponse:
    """Refuse with ``refused`` when it is not empty; else record the check in the access
    log, then ``ask(who)``, saying in words why there is no answer if there is none."""
    context: dict = {"provider": provider, "who": who, "where": where, "asked_at": timezone.now()}
    if refused:
        context["error"] = refused
        return render(request, TEMPLATE, context)
    access_record(
        AccessKind.PROVIDER_CHECK,
        {"provider": provider.lower(), "identifier": who},
        actor=request.user,
        client_ip=client_address(request),
    )
    try:
        context["blocked"] = ask(who)
    except ProviderNotConfigured as error:
        context["not_configured"] = str(error)
    except ProviderError as error:
        context["error"] = error.message
    except ValueError as error:
        context["error"] = str(error)
    return render(request, TEMPLATE, context)
