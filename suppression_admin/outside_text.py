"""Text from outside — a provider's answer, an uploaded file — made safe to store and show.

PostgreSQL refuses NUL in text and jsonb (SQLite takes it, so tests on SQLite never fail).
The other control characters (a bell, a terminal escape) and the bidirectional controls
that reorder what a reviewer sees (U+202E shows "moc.elpmaxe" as "example.com") are
storable but misleading. Each of them is replaced by U+FFFD, the replacement character, at
the edge where the text comes in; the caller records that it happened. Tab, line feed and
carriage return are kept: they are ordinary in free text such as a block reason.
"""

import re

REPLACEMENT = "\ufffd"

_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 and C1 controls, DEL
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidirectional marks and controls
)


# The same characters written as JSON escapes ("\\u0000"), which ``json.loads`` would decode;
# and half a surrogate pair, which it would decode to a string no database can store.
_UNSAFE_ESCAPE = re.compile(
    r"\\u(?:00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])"
    r"|061[cC]|200[eEfF]|202[a-eA-E]|206[6-9])"
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds a character ``safe_text`` would replace."""
    return _UNSAFE.search(text) is not None


def safe_text(text: str) -> str:
    """``text`` with each control or bidirectional-control character replaced by U+FFFD."""
    return _UNSAFE.sub(REPLACEMENT, text)


def safe_json_text(text: str) -> str:
    """A JSON text with each such character, raw or escaped, made U+FFFD: it parses as
    before (to the same structure) and every string in it is safe."""
    return _UNSAFE_ESCAPE.sub(r"\\ufffd", safe_text(text))


def search_term(text: str, *, max_length: int = 200) -> str:
    """The longest stretch of ``text`` free of replaced characters, cut to ``max_length``:
    what to search a provider for when the text it gave was altered (a substring search
    still finds the original)."""
    return max(text.split(REPLACEMENT), key=len)[:max_length]
