"""Searching Woodpecker's blacklist so that the answer never misleads.

What a person types is read as one of three searches:

* nothing: the whole blacklist, a page at a time;
* one partial text or pattern: ``m.joh`` finds every address containing it (it is sent as
  ``*m.joh*``); with ``*`` it is a pattern as typed (``*@example.com``). A whole address is
  searched the same way (so near spellings show too), and the page says whether that exact
  address is on the blacklist;
* several whole addresses (separated by commas, semicolons, spaces or lines): each is
  looked up exactly — in as many requests as Woodpecker's URL limit needs — and the page
  says, for each, whether it is on the blacklist.

A search that cannot be read that way is an error in words, never a page of unfiltered rows
under the search box.
"""

import re
from dataclasses import dataclass, field

from suppression_admin.providers.woodpecker import MAX_URL_LENGTH, WoodpeckerClient

PAGE_SIZE = 100
MAX_ADDRESSES = 1_000
# One term's own share of the URL; the rest is the address, path and paging.
MAX_TERM_LENGTH = MAX_URL_LENGTH - 200
_SEPARATORS = re.compile(r"[\s,;]+")

NOT_AN_ADDRESS = (
    "Search one partial text or pattern, or several whole addresses at once: “{term}” is not "
    "a whole address."
)
TOO_MANY = "Search at most {limit:,} addresses at once ({count:,} were given)."
TOO_LONG = "The search is {length:,} characters long; one text or pattern can be {limit:,}."


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
    """The distinct terms of a search, lowercased, in the order typed."""
    return list(dict.fromkeys(term.lower() for term in _SEPARATORS.split(text) if term))


def blacklist_search(client: WoodpeckerClient, text: str, *, page: int = 0) -> SearchResult:
    """Run the search ``text`` reads as (see the module); raises SearchInvalid or
    ProviderError."""
    terms = search_terms(text)
    if len(terms) > 1:
        return _addresses(client, terms, page)
    term = terms[0] if terms else ""
    if len(term) > MAX_TERM_LENGTH:
        raise SearchInvalid(TOO_LONG.format(length=len(term), limit=MAX_TERM_LENGTH))
    pattern = term if not term or "*" in term else f"*{term}*"
    listed = client.list_page(page=page, per_page=PAGE_SIZE, email_filter=pattern)
    result = SearchResult(emails=listed.emails, total=listed.total, page=page, pattern=pattern)
    if "@" in term and "*" not in term:
        shown = {email.lower() for email in listed.emails}
        if term in shown:
            found = True
        elif listed.total <= len(listed.emails) and page == 0:
            found = False  # every match is on this page
        else:
            found = bool(client.lookup([term]))
        result.verdicts = [Verdict(term, found)]
    return result


def _addresses(client: WoodpeckerClient, terms: list[str], page: int) -> SearchResult:
    if len(terms) > MAX_ADDRESSES:
        raise SearchInvalid(TOO_MANY.format(limit=MAX_ADDRESSES, count=len(terms)))
    for term in terms:
        if "@" not in term or "*" in term:
            raise SearchInvalid(NOT_AN_ADDRESS.format(term=term[:80]))
    found = client.lookup(terms)
    found_lower = {email.lower() for email in found}
    verdicts = [Verdict(term, term in found_lower) for term in terms]
    listed = [verdict.address for verdict in verdicts if verdict.listed]
    start = page * PAGE_SIZE
    return SearchResult(
        emails=listed[start : start + PAGE_SIZE], total=len(listed), page=page, verdicts=verdicts
    )
