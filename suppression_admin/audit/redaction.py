"""Our API keys never reach the audit: what a provider says back is stored redacted.

A provider may echo a request's headers or query in an error page, and a proxy may too.
Every configured key is replaced wherever it appears (as is, or URL-encoded), and so is
any value labelled as an API key (``api_key=...``, ``"x-api-key": "..."``), ours or not.
"""

import re
from urllib.parse import quote

from django.conf import settings

KEY_SETTINGS = ("WALEAD_API_KEY", "WOODPECKER_API_KEY", "SANDBOX_API_KEY")
REDACTED = "[redacted]"
# Shorter values would be replaced wherever those letters occur: no real key is this short.
SHORTEST_KEY = 8
LABELLED = re.compile(
    r"""(?ix)
    ( (?:x[-_])? api[-_]?key ["']? \s* [:=] \s* ["']? )   # the label, up to the value
    ( [^\s"'&,;}]+ )                                        # the value
    """
)


def redact(text: str) -> str:
    """``text`` with every API key (ours by value, any by label) replaced."""
    if not text:
        return text
    for key in _our_keys():
        text = text.replace(key, REDACTED)
        text = text.replace(quote(key, safe=""), REDACTED)
    return LABELLED.sub(lambda match: match.group(1) + REDACTED, text)


def _our_keys() -> list[str]:
    keys = (getattr(settings, name, "") or "" for name in KEY_SETTINGS)
    return sorted({key for key in keys if len(key) >= SHORTEST_KEY}, key=len, reverse=True)
