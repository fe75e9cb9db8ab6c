from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from suppression_admin.connections import walead_endpoint, woodpecker_endpoint
from suppression_admin.jobs.models import Worker
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


@require_GET
@never_cache
@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitors: the database answers, and a worker's heartbeat is
    fresh. 200 when both hold, else 503 saying which. Nothing about people or keys."""
    checks = {"database": "ok", "worker": "ok"}
    worker_seen = None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        worker_seen = (
            Worker.objects.filter(stopped_at__isnull=True)
            .order_by("-seen_at")
            .values_list("seen_at", flat=True)
            .first()
        )
    except DatabaseError:
        checks["database"] = "unreachable"
        checks["worker"] = "unknown"
    else:
        age = None if worker_seen is None else (timezone.now() - worker_seen).total_seconds()
        if age is None:
            checks["worker"] = "no worker running"
        elif age > settings.WORKER_SILENT_AFTER_SECONDS:
            checks["worker"] = f"last heartbeat {age:.0f} s ago"
        checks["worker_heartbeat_seconds_ago"] = None if age is None else round(age, 1)
    healthy = checks["database"] == "ok" and checks["worker"] == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "failing", **checks}, status=200 if healthy else 503
    )


# Who each part of the site is for: a refusal names the group that may enter.
ROLE_OF_PREFIX = (
    ("/audit/", "Auditors"),
    ("/walead/", "Operators"),
    ("/woodpecker/", "Operators"),
    ("/jobs/", "Operators"),
)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 403 page (``handler403``), saying which role the page needs."""
    role = next((role for prefix, role in ROLE_OF_PREFIX if request.path.startswith(prefix)), "")
    return render(request, "403.html", {"role": role}, status=403)
