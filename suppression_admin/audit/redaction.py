"""Our API keys never reach the audit: what is recorded of a request or an answer is
scrubbed of every configured key, whichever provider it belongs to.

The provider clients already scrub their own key from answers as they arrive
(providers.redaction); this is the audit's own guard, for everything it stores of a call.
"""

from django.conf import settings

from suppression_admin.providers.redaction import scrub

KEY_SETTINGS = ("WALEAD_API_KEY", "WOODPECKER_API_KEY", "SANDBOX_API_KEY")


def redact(text: str) -> str:
    """``text`` with every configured API key (and anything labelled as a key) replaced."""
    return scrub(text, (getattr(settings, name, "") or "" for name in KEY_SETTINGS))
