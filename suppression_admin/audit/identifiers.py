"""How the audit finds a person: every item carries one normalised search key.

An email is found however it was typed (``  Maria@Example.COM``); a LinkedIn lead by its
public identifier, whether the reviewer pastes the slug or the whole profile URL. The key
is written with the item and indexed, so a search never scans the items.
"""

import re
from urllib.parse import unquote

from suppression_admin.outside_text import safe_text

# People paste whole profile URLs; the audit stores only the public identifier (the slug).
LINKEDIN_PROFILE = re.compile(r"linkedin\.com/in/([^/?#\s]+)", re.IGNORECASE)

KEY_LENGTH = 320


def normalised(text: str) -> str:
    """The search key of a typed identifier: trimmed, lower-cased, a profile URL → its slug.

    A LinkedIn identifier may be written percent-encoded (as in its URL) or not: both are
    decoded alike. An email address is kept as typed ("%" is legal in one).
    """
    text = text.strip()
    if match := LINKEDIN_PROFILE.search(text):
        text = match.group(1).strip("/")
    if "@" not in text:
        # (Decoding can make a control character: "%00" is a NUL, which PostgreSQL refuses.)
        text = safe_text(unquote(text)).strip("/")
    return text.strip().lower()[:KEY_LENGTH]


def item_search_key(identifier: str, label: str = "") -> str:
    """An item's key: a lead's public identifier when known, else what the provider knows it
    by (the email address, or the lead id of a lead no longer found)."""
    return normalised(label or identifier)


def ticket_key(ticket: str) -> str:
    """A ticket as searched: trimmed, lower-cased (``SUP-12`` is ``sup-12``)."""
    return ticket.strip().lower()[:200]
