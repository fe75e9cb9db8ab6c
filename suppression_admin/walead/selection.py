"""The operator's selection of blocked leads, kept in the session across pages and searches.

Only leads this session has been shown by WaLead can be selected: the snapshot (public
identifier, block reason) recorded in the audit is what the provider said, never what a
browser posted.
"""

from collections.abc import Iterable

from django.contrib.sessions.backends.base import SessionBase

from suppression_admin.walead.services import LeadSnapshot

SEEN_KEY = "walead_seen"
SELECTED_KEY = "walead_selected"
# Bound the session: a search can page through many leads.
MAX_SEEN = 20_000


def remember(session: SessionBase, leads: Iterable[LeadSnapshot]) -> None:
    seen = session.get(SEEN_KEY, {})
    for lead in leads:
        seen[lead.id] = [lead.public_identifier, lead.reason, lead.created_at]
    if len(seen) > MAX_SEEN:
        selected = set(session.get(SELECTED_KEY, []))
        keep = [key for key in seen if key in selected]
        recent = [key for key in list(seen)[-MAX_SEEN:] if key not in selected]
        seen = {key: seen[key] for key in keep + recent}
    session[SEEN_KEY] = seen


def known(session: SessionBase, lead_id: str) -> LeadSnapshot | None:
    row = session.get(SEEN_KEY, {}).get(lead_id)
    if row is None:
        return None
    slug, reason, created_at = row
    return LeadSnapshot(id=lead_id, public_identifier=slug, reason=reason, created_at=created_at)


def selected_ids(session: SessionBase) -> list[str]:
    return list(session.get(SELECTED_KEY, []))


def selected_leads(session: SessionBase) -> list[LeadSnapshot]:
    return [lead for lead_id in selected_ids(session) if (lead := known(session, lead_id))]


def replace_on_page(
    session: SessionBase, *, page_ids: Iterable[str], checked: Iterable[str]
) -> None:
    """Make the selection's part on one page exactly what is checked there."""
    page = set(page_ids)
    chosen = [lead_id for lead_id in checked if lead_id in page and known(session, lead_id)]
    current = [lead_id for lead_id in selected_ids(session) if lead_id not in page]
    session[SELECTED_KEY] = list(dict.fromkeys(current + chosen))


def add(session: SessionBase, lead_ids: Iterable[str]) -> None:
    wanted = [lead_id for lead_id in lead_ids if known(session, lead_id)]
    session[SELECTED_KEY] = list(dict.fromkeys(selected_ids(session) + wanted))


def discard(session: SessionBase, lead_ids: Iterable[str]) -> None:
    gone = set(lead_ids)
    session[SELECTED_KEY] = [lead_id for lead_id in selected_ids(session) if lead_id not in gone]


def clear(session: SessionBase) -> None:
    session[SELECTED_KEY] = []
