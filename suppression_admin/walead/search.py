"""Searching WaLead's blocked leads so that the answer never misleads.

What a person types is read as one of three searches:

* nothing: the whole blocked list, a page of ``PAGE_SIZE`` leads at a time, read from
  WaLead as the page is shown;
* one text: WaLead's own search, which matches part of a public identifier (``maria-gon``
  finds maria-gonzalez), read the same way, a page at a time;
* several texts (separated by commas, semicolons, spaces or lines), or a LinkedIn profile
  address: each is searched through all its matches, the leads found are listed together,
  and the page says for each whether a lead with exactly that public identifier is blocked.

A profile address (``https://www.linkedin.com/in/maria-gonzalez/``) is read as its public
identifier. A search that cannot be read that way is an error in words, never a page of
unfiltered rows under the search box.
"""

import re
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import unquote

from suppression_admin.connections import walead_client
from suppression_admin.outside_text import has_unsafe
from suppression_admin.walead.services import (
    LeadSnapshot,
    leads_matching_known,
    leads_matching_reused,
)

PAGE_SIZE = 100
# Each of several texts is read through all its matches (two requests or more): bound the
# wait of one page view. Each must be long enough not to match most of the list.
MAX_TERMS = 20
MIN_TERM_CHARS = 3
# LinkedIn's public identifiers are at most 100 characters; leave room for a pasted address.
MAX_TERM_CHARS = 200

_SEPARATORS = re.compile(r"[\s,;]+")
_PROFILE = re.compile(r"^(?:https?://)?(?:[\w-]+\.)*linkedin\.com/in/([^/?#]+)/?(?:[?#].*)?$", re.I)

TOO_MANY = (
    "{count:,} texts searched at once; at most {limit:,} fit in one search. Search them in parts."
)
TOO_SHORT = (
    "“{term}” is too short to search beside others: give at least {limit} characters of each "
    "public identifier."
)
TOO_LONG = "“{term}…” is longer than any LinkedIn public identifier ({limit:,} characters)."
UNREADABLE = "“{term}” holds a control or text-direction character; type it again."


class SearchInvalid(ValueError):
    """The search cannot be read; the message says why, in words."""


@dataclass(frozen=True)
class LeadVerdict:
    """For one searched text: is a lead with exactly that public identifier blocked?"""

    term: str
    blocked: bool
    matching: int  # blocked leads whose identifier contains the text, that one included


@dataclass
class LeadsPage:
    """One page of the leads a search found, with what is known of the rest."""

    leads: list[LeadSnapshot]
    offset: int
    every: list[LeadSnapshot] | None = None  # all the matches, once the search was read whole
    verdicts: list[LeadVerdict] = field(default_factory=list)

    @property
    def total(self) -> int | None:
        return None if self.every is None else len(self.every)

    @property
    def end(self) -> int:
        return self.offset + len(self.leads)

    @property
    def has_next(self) -> bool:
        if self.total is not None:
            return self.end < self.total
        # Read as shown: a short page means WaLead answered an empty one after it.
        return len(self.leads) == PAGE_SIZE

    @property
    def blocked_count(self) -> int:
        return sum(1 for verdict in self.verdicts if verdict.blocked)


@dataclass(frozen=True)
class Search:
    """A search as read: its texts, and whether each gets an exact verdict."""

    terms: tuple[str, ...]
    checks: bool

    @property
    def text(self) -> str:
        """The one text WaLead is asked for (for a search read a page at a time)."""
        return self.terms[0] if self.terms else ""


def search_read(text: str) -> Search:
    """What ``text`` asks for (see the module); raises SearchInvalid."""
    raw = [term for term in _SEPARATORS.split(text.strip()) if term]
    if len(raw) > MAX_TERMS:
        raise SearchInvalid(TOO_MANY.format(count=len(raw), limit=MAX_TERMS))
    terms = [_identifier(term) for term in raw]
    for term in terms:
        if has_unsafe(term):
            raise SearchInvalid(UNREADABLE.format(term=term[:80]))
        if len(term) > MAX_TERM_CHARS:
            raise SearchInvalid(TOO_LONG.format(term=term[:40], limit=MAX_TERM_CHARS))
        if len(terms) > 1 and len(term) < MIN_TERM_CHARS:
            raise SearchInvalid(TOO_SHORT.format(term=term, limit=MIN_TERM_CHARS))
    unique = tuple({term.lower(): term for term in reversed(terms)}.values())[::-1]
    profile = len(raw) == 1 and _PROFILE.match(raw[0]) is not None
    return Search(terms=unique, checks=len(unique) > 1 or profile)


def _identifier(term: str) -> str:
    match = _PROFILE.match(term)
    return unquote(match.group(1)) if match else term


def leads_search_page(search: Search, *, sort: str, offset: int) -> LeadsPage:
    """The page of ``search``'s leads from ``offset``; raises ProviderError."""
    if search.checks:
        every = leads_search_all(search, sort=sort)
        return LeadsPage(
            leads=every[offset : offset + PAGE_SIZE],
            offset=offset,
            every=every,
            verdicts=_verdicts(search, sort),
        )
    client = walead_client()
    try:
        read = client.iter_blocked_leads(offset=offset, sort=sort, search=search.text)  # type: ignore[arg-type]
        leads = [LeadSnapshot.from_lead(lead) for lead in islice(read, PAGE_SIZE)]
    finally:
        client.close()
    # Read whole lately (a count, "select all"): its total and whether there is more are known.
    known = leads_matching_known(search=search.text, sort=sort)
    return LeadsPage(leads=leads, offset=offset, every=known)


def leads_search_all(search: Search, *, sort: str) -> list[LeadSnapshot]:
    """Every lead ``search`` finds, in the list's order (each text read once a minute at most,
    see services.leads_matching_reused); raises ProviderError."""
    if len(search.terms) <= 1:
        return leads_matching_reused(search=search.text, sort=sort)
    found = {
        lead.id: lead
        for term in search.terms
        for lead in leads_matching_reused(search=term, sort=sort)
    }
    return sorted(
        found.values(), key=lambda lead: (lead.created_at, lead.id), reverse=sort == "DESC"
    )


def _verdicts(search: Search, sort: str) -> list[LeadVerdict]:
    verdicts = []
    for term in search.terms:
        matching = leads_matching_reused(search=term, sort=sort)
        wanted = term.lower()
        verdicts.append(
            LeadVerdict(
                term=term,
                blocked=any(lead.public_identifier.lower() == wanted for lead in matching),
                matching=len(matching),
            )
        )
    return verdicts
