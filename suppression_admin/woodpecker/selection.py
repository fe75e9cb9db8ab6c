"""The addresses an operator ticked on the blacklist page, kept in the session across pages
and searches (as WaLead's leads are: walead.selection), until they become a removal draft.

Addresses are kept as Woodpecker spelled them; a removal goes through the same preview and
confirmation as an upload.
"""

from collections.abc import Iterable

from django.contrib.sessions.backends.base import SessionBase

SELECTED_KEY = "woodpecker_selected"
# A session is no place for more; a larger removal is an upload.
MAX_SELECTED = 10_000


def selected(session: SessionBase) -> list[str]:
    return list(session.get(SELECTED_KEY, []))


def replace_on_page(session: SessionBase, *, page: Iterable[str], checked: Iterable[str]) -> None:
    """Make the selection's part on one page exactly what is ticked there."""
    shown = set(page)
    ticked = [email for email in checked if email in shown]
    kept = [email for email in selected(session) if email not in shown]
    session[SELECTED_KEY] = list(dict.fromkeys(kept + ticked))[:MAX_SELECTED]


def add(session: SessionBase, emails: Iterable[str]) -> int:
    """Add ``emails``; how many the selection holds after (at most MAX_SELECTED)."""
    session[SELECTED_KEY] = list(dict.fromkeys(selected(session) + list(emails)))[:MAX_SELECTED]
    return len(session[SELECTED_KEY])


def clear(session: SessionBase) -> None:
    session[SELECTED_KEY] = []
