from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from suppression_admin.connections import walead_endpoint, woodpecker_endpoint
from suppression_admin.providers.errors import ProviderNotConfigured


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "home.html",
        {
            "providers": [
                ("WaLead", _mode(walead_endpoint)),
                ("Woodpecker", _mode(woodpecker_endpoint)),
            ]
        },
    )


def _mode(endpoint_for) -> str:
    try:
        return endpoint_for().mode
    except ProviderNotConfigured:
        return "not configured"
