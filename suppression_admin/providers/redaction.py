"""Secrets out of what a provider says back, before anything else reads it.

A provider (or a proxy in front of it) may echo a request's headers or query in an error
page. The client scrubs its own key from every answer as it arrives, so no message,
excerpt, audit row, page or log built from an answer can carry it. Replaced: the key as
is, JSON-escaped, and URL-encoded (either case), and any value labelled as an API key or
an Authorization header, quoted or not.
"""

import json
import re
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "[redacted]"
# Shorter values would be replaced wherever those letters occur: no real key is this short.
SHORTEST_SECRET = 8

LABELLED = re.compile(
    r"""(?ix)
    (?P<label>
        (?: (?:x[-_])? api[-_\s]?key | authorization | access[-_]?token )
        \\?["']? \s* [:=] \s*
        (?: (?:bearer|basic|token) \s+ )?
    )
    (?P<value>
        \\"(?:[^"\\]|\\[^"])*\\"        # "…" inside a JSON string: \"value\"
      | "[^"]*"                          # "value"
      | '[^']*'                          # 'value'
      | [^\s"'&,;}\\]+                   # value
    )
    """
)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (in its usual encodings) and labelled key replaced."""
    if not text:
        return text
    for secret in sorted({s for s in secrets if len(s) >= SHORTEST_SECRET}, key=len, reverse=True):
        for form in _forms(secret):
            text = text.replace(form, REDACTED)
    return LABELLED.sub(_redact_value, text)


def _forms(secret: str) -> set[str]:
    encoded = quote(secret, safe="")
    lower_escapes = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)
    in_json = json.dumps(secret)[1:-1]
    # JSON may also escape "/" (many encoders do; Python's does not).
    return {secret, in_json, in_json.replace("/", "\\/"), encoded, lower_escapes}


def _redact_value(match: re.Match) -> str:
    value = match.group("value")
    if value.startswith('\\"'):
        kept = '\\"' + REDACTED + '\\"'
    elif value[0] in "\"'":
        kept = value[0] + REDACTED + value[0]
    else:
        kept = REDACTED
    return match.group("label") + kept
