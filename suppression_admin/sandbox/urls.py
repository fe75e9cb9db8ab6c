"""Sandbox provider endpoints, mounted by the project under ``sandbox/``.

Paths mirror the providers' own below their base URLs, so a client pointed at
``<site>/sandbox/walead/api`` or ``<site>/sandbox/woodpecker/rest`` builds the real paths.
"""

from django.urls import path

from suppression_admin.sandbox import walead_views, woodpecker_views

app_name = "sandbox"

urlpatterns = [
    path("walead/api/v1/blocked-leads", walead_views.blocked_leads, name="walead-blocked-leads"),
    path(
        "woodpecker/rest/v2/blacklist/emails",
        woodpecker_views.blacklist_emails,
        name="woodpecker-blacklist-emails",
    ),
]
