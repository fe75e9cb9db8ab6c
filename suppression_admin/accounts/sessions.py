"""How long a login lasts: signed out after a while idle, and after a working day at most.

Idle means nobody did anything: a page that refreshes itself (a job's progress polling every
second) sends ``X-Poll`` and does not count as activity, or a job page left open would keep
the session alive forever. The absolute lifetime counts from the login, whatever happens.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

LOGGED_IN_AT = "logged_in_at"
ACTIVE_AT = "active_at"
# The last activity is written at most this often: not a session write per click.
ACTIVITY_RESOLUTION_SECONDS = 60
IDLE = "You were signed out after {minutes} minutes without activity. Please sign in again."
EXPIRED = "You were signed out: a sign-in lasts {hours} hours at most. Please sign in again."


def session_started(sender, request: HttpRequest, user, **kwargs) -> None:
    """On sign-in (connected in AccountsConfig.ready): the clocks start."""
    now = time.time()
    request.session[LOGGED_IN_AT] = now
    request.session[ACTIVE_AT] = now


class SessionLifetimeMiddleware:
    """After the authentication and messages middleware. LoginRequiredMiddleware, which acts
    later (in process_view), then asks an ended session to sign in again."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        now = time.time()
        session = request.session
        logged_in_at = session.setdefault(LOGGED_IN_AT, now)
        active_at = session.get(ACTIVE_AT, logged_in_at)
        ended = None
        if now - logged_in_at > settings.SESSION_ABSOLUTE_SECONDS:
            ended = EXPIRED.format(hours=round(settings.SESSION_ABSOLUTE_SECONDS / 3600))
        elif now - active_at > settings.SESSION_IDLE_SECONDS:
            ended = IDLE.format(minutes=round(settings.SESSION_IDLE_SECONDS / 60))
        if ended is not None:
            logout(request)
            messages.info(request, ended)
            return
        if not request.headers.get("X-Poll") and now - active_at >= ACTIVITY_RESOLUTION_SECONDS:
            session[ACTIVE_AT] = now
