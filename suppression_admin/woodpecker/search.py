"""Searching Woodpecker's blacklist so that the answer never misleads.

What a person types is read as one of three searches:

* nothing: the whole blacklist, a page at a time;
* one partial text or pattern: ``m.joh`` finds every address containing it (it is sent as
  ``*m.joh*``); with ``*`` it is a pattern as typed (``*@example.com``). A whole, valid
  address is searched the same way (so near spellings show too), and looked up exactly as
  well, so the page can say whether that very address is on the blacklist;
* several whole addresses (separated by commas, semicolons, spaces or lines): each is
  looked up exactly — in as many requests as Woodpecker's URL limit needs — and the page
  says, for each, whether it is on the blacklist.

Terms are sent as typed and compared without regard to case; the addresses shown (and
ticked for removal) are spelled as Woodpecker answered. A search that cannot be read that
way, or is longer than one page address can carry (``MAX_SEARCH_CHARS``), is an error in
words, never a page of unfiltered rows under the search box.
"""

import re
from dataclasses import dataclass, field

from suppression_admin.providers.woodpecker import WoodpeckerClient
from suppression_admin.woodpecker.ingest.addresses import MAX_ADDRESS_LENGTH, is_address

PAGE_SIZE = 100
# The search travels in the page's own address (a GET, so it can be bookmarked and paged);
# the README's gunicorn and nginx take request lines of 8 KB: about two hundred addresses.
MAX_SEARCH_CHARS = 6_000
_SEPARATORS = re.compile(r"[\s,;]+")

NOT_AN_ADDRESS = (
    "Search one partial text or pattern, or several whole addresses at once: “{term}” is not "
    "a whole address."
)
TOO_LONG = (
    "The search is {length:,} characters long; at most {limit:,} fit in one search (about "
    "two hundred addresses). To check more, upload them as a file under Bulk removal: its "
    "preview says how many are on the blacklist."
)

LONGER_THAN_ANY = "“{term}…” is longer than any email address ({limit} characters)."


class SearchInvalid(ValueError):
    """The search cannot be read; the message says why, in words."""


@dataclass(frozen=True)
class Verdict:
    address: str
    listed: bool


@dataclass
class SearchResult:
    """One page of what matched, with the figures the page shows."""

    emails: list[str]
    total: int
    page: int
    verdicts: list[Verdict] = field(default_factory=list)
    pattern: str = ""  # what was sent as the filter, for a single search
    everything: list[str] | None = None  # every match, when the search found them all at once

    @property
    def first(self) -> int:
        return self.page * PAGE_SIZE + 1 if self.emails else 0

    @property
    def last(self) -> int:
        return self.page * PAGE_SIZE + len(self.emails)

    @property
    def has_next(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total

    @property
    def listed_count(self) -> int:
        return sum(1 for verdict in self.verdicts if verdict.listed)


def search_terms(text: str) -> list[str]:
    """The terms of a search as typed, in order, each once (whatever its case)."""
    terms: dict[str, str] = {}
    for term in _SEPARATORS.split(text):
        if term:
            terms.setdefault(term.lower(), term)  # the first spelling, where it was first given
    return list(terms.values())


def _whole_address(term: str) -> bool:
    return "*" not in term and is_address(term)


def blacklist_search(client: WoodpeckerClient, text: str, *, page: int = 0) -> SearchResult:
    """Run the search ``text`` reads as (see the module); raises SearchInvalid or
    ProviderError."""
    text = text.strip()
    if len(text) > MAX_SEARCH_CHARS:
        raise SearchInvalid(TOO_LONG.format(length=len(text), limit=MAX_SEARCH_CHARS))
    terms = search_terms(text)
    if len(terms) > 1:
        return _addresses(client, terms, page)
    term = terms[0] if terms else ""
    if len(term) > MAX_ADDRESS_LENGTH + 2:  # room for a pattern's two *
        raise SearchInvalid(LONGER_THAN_ANY.format(term=term[:40], limit=MAX_ADDRESS_LENGTH))
    pattern = term if not term or "*" in term else f"*{term}*"
    listed = client.list_page(page=page, per_page=PAGE_SIZE, email_filter=pattern)
    result = SearchResult(emails=listed.emails, total=listed.total, page=page, pattern=pattern)
    if _whole_address(term):
        # Looked up exactly, always: the matches shown may be a page of many.
        result.verdicts = [Verdict(term, bool(client.lookup([term])))]
    return result


def _addresses(client: WoodpeckerClient, terms: list[str], page: int) -> SearchResult:
    for term in terms:
        if not _whole_address(term):
            raise SearchInvalid(NOT_AN_ADDRESS.format(term=term[:80]))
    spelled = {email.lower(): email for email in client.lookup(terms)}
    verdicts = [Verdict(term, term.lower() in spelled) for term in terms]
    listed = [spelled[verdict.address.lower()] for verdict in verdicts if verdict.listed]
    start = page * PAGE_SIZE
    return SearchResult(
        emails=listed[start : start + PAGE_SIZE],
        total=len(listed),
        page=page,
        verdicts=verdicts,
        everything=listed,
    )


TOO_MANY_TO_SELECT = (
    "{total:,} addresses match; at most {limit:,} can be selected at once. Narrow the search, "
    "or remove them with an upload (Bulk removal)."
)


def blacklist_matches(client: WoodpeckerClient, text: str, *, limit: int) -> list[str]:
    """Every address the search ``text`` finds (as Woodpecker spells them), reading all its
    pages; raises SearchInvalid when there are more than ``limit``."""
    first = blacklist_search(client, text)
    if first.total > limit:
        raise SearchInvalid(TOO_MANY_TO_SELECT.format(total=first.total, limit=limit))
    if first.everything is not None:  # several addresses: all found already
        return first.everything
    emails = list(first.emails)
    page = 1
    while len(emails) < first.total:
        more = client.list_page(page=page, per_page=PAGE_SIZE, email_filter=first.pattern).emails
        if not more:
            break
        emails.extend(more)
        page += 1
    return list(dict.fromkeys(emails))[:limit]
