"""Searching WaLead's blocked leads so that the answer never misleads.

What a person types is read as one of three searches:

* nothing: the whole blocked list, a page of ``PAGE_SIZE`` leads at a time, read from
  WaLead as the page is shown;
* one text: WaLead's own search, which matches part of a public identifier (``maria-gon``
  finds maria-gonzalez), read the same way, a page at a time;
* several texts (separated by commas, semicolons, spaces or lines), or a LinkedIn profile
  address: each is searched through all its matches, the leads found are listed together,
  and the page says for each whether a lead with exactly that public identifier is blocked,
  and when WaLead was asked.

A profile address (``https://www.linkedin.com/in/maria-gonzalez/``, with or without more
after the identifier) is read as its public identifier. A search that cannot be read that
way is an error in words, never a page of unfiltered rows under the search box.

Reading all the matches of a text can take many requests, so it is done once and reused
(by the page, its count, "select all", the next page) until a minute has passed or one of
our unblocks has changed the list since.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from urllib.parse import unquote

from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from suppression_admin.audit.models import Provider
from suppression_admin.connections import walead_client, walead_endpoint
from suppression_admin.jobs.models import Job
from suppression_admin.keys.lock import key_fingerprint
from suppression_admin.outside_text import has_unsafe, safe_text
from suppression_admin.walead.services import LeadSnapshot, leads_matching

PAGE_SIZE = 100
# Each of several texts is read through all its matches (two requests or more): bound the
# wait of one page view. Each must be long enough not to match most of the list.
MAX_TERMS = 20
MIN_TERM_CHARS = 3
# LinkedIn's public identifiers are at most 100 characters; leave room for a pasted address.
MAX_TERM_CHARS = 200
REUSED_SECONDS = 60

_SEPARATORS = re.compile(r"[\s,;]+")
# Quotes, brackets and sentence punctuation that come along when an address is pasted.
_WRAPPING = "\"'\u201c\u201d\u2018\u2019<>()[]."  # typographic quotes too
_PROFILE = re.compile(
    r"^(?:https?://)?(?:[\w-]+\.)*linkedin\.com/(?:mwlite/)?in/([^/?#]+)(?:[/?#].*)?$", re.I
)
_ADDRESS_LIKE = re.compile(r"://|linkedin\.com|/", re.I)
# Invisible characters a copy from a spreadsheet or a chat brings along: dropped.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))

TOO_MANY = (
    "{count:,} texts searched at once; at most {limit:,} fit in one search. Search them in parts."
)
TOO_SHORT = (
    "“{term}” is too short to check: give at least {limit} characters of a public identifier."
)
TOO_LONG = "“{term}…” is longer than any LinkedIn public identifier ({limit:,} characters)."
UNREADABLE = "“{term}” holds a control or text-direction character (shown as �); type it again."
NOT_A_PROFILE = (
    "“{term}” is not a LinkedIn profile address: give the identifier (maria-gonzalez) or the "
    "profile's address (https://www.linkedin.com/in/maria-gonzalez/)."
)


class SearchInvalid(ValueError):
    """The search cannot be read; the message says why, in words."""


@dataclass(frozen=True)
class Search:
    """A search as read: its texts, and whether each gets an exact verdict."""

    terms: tuple[str, ...]
    checks: bool

    @property
    def text(self) -> str:
        """The one text WaLead is asked for (for a search read a page at a time)."""
        return self.terms[0] if self.terms else ""


@dataclass(frozen=True)
class Matching:
    """Every blocked lead matching one text, as WaLead listed them at ``read_at``."""

    leads: list[LeadSnapshot]
    read_at: datetime


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
    checked_at: datetime | None = None  # when WaLead was asked for the verdicts
    exact_ids: frozenset[str] = frozenset()  # the leads the verdicts are about

    @property
    def selectable(self) -> list[LeadSnapshot] | None:
        """What "select all" takes: after a check, only the very leads checked (a near
        spelling is another person); else every match."""
        if self.every is None or not self.verdicts:
            return self.every
        return [lead for lead in self.every if lead.id in self.exact_ids]

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


def search_read(text: str) -> Search:
    """What ``text`` asks for (see the module); raises SearchInvalid."""
    raw = [term for term in _SEPARATORS.split(text.translate(_INVISIBLE)) if term.strip(_WRAPPING)]
    if len(raw) > MAX_TERMS:
        raise SearchInvalid(TOO_MANY.format(count=len(raw), limit=MAX_TERMS))
    profiles = [_PROFILE.match(term.strip(_WRAPPING)) for term in raw]
    checks = len(raw) > 1 or any(profiles)
    terms: dict[str, str] = {}  # by its lower case, the first spelling, in the order given
    for given, profile in zip(raw, profiles, strict=True):
        term = unicodedata.normalize("NFC", unquote(profile[1]) if profile else given)
        term = term if profile else term.strip(_WRAPPING)
        if has_unsafe(term):
            raise SearchInvalid(UNREADABLE.format(term=safe_text(term)[:80]))
        if not profile and _ADDRESS_LIKE.search(term):
            raise SearchInvalid(NOT_A_PROFILE.format(term=given[:80]))  # as typed
        if len(term) > MAX_TERM_CHARS:
            raise SearchInvalid(TOO_LONG.format(term=term[:40], limit=MAX_TERM_CHARS))
        if checks and len(term) < MIN_TERM_CHARS:
            raise SearchInvalid(TOO_SHORT.format(term=term, limit=MIN_TERM_CHARS))
        terms.setdefault(term.lower(), term)
    return Search(terms=tuple(terms.values()), checks=checks)


def leads_search_page(search: Search, *, sort: str, offset: int) -> LeadsPage:
    """The page of ``search``'s leads from ``offset``; raises ProviderError."""
    if search.checks:
        reads = _reads(search.terms, sort)
        every = _merged([read.leads for read in reads.values()], sort)
        return LeadsPage(
            leads=every[offset : offset + PAGE_SIZE],
            offset=offset,
            every=every,
            verdicts=[_verdict(term, read) for term, read in reads.items()],
            checked_at=min(read.read_at for read in reads.values()),
            exact_ids=frozenset(lead.id for lead in _exact(search.terms, every)),
        )
    client = walead_client()
    try:
        read = client.iter_blocked_leads(offset=offset, sort=sort, search=search.text)  # type: ignore[arg-type]
        leads = [LeadSnapshot.from_lead(lead) for lead in islice(read, PAGE_SIZE)]
    finally:
        client.close()
    # Read whole lately (a count, "select all"): its total and whether there is more are known.
    known = cache.get(_key(_list_state(sort), search.text))
    return LeadsPage(leads=leads, offset=offset, every=None if known is None else known.leads)


def leads_search_all(search: Search, *, sort: str) -> list[LeadSnapshot]:
    """What "select all" takes for ``search``, in the list's order: every lead it finds, or
    after a check the very leads checked; raises ProviderError."""
    reads = _reads(search.terms or ("",), sort)
    every = _merged([read.leads for read in reads.values()], sort)
    return _exact(search.terms, every) if search.checks else every


def _exact(terms: tuple[str, ...], leads: list[LeadSnapshot]) -> list[LeadSnapshot]:
    """The leads whose public identifier is one of ``terms`` (whatever its case)."""
    wanted = {term.lower() for term in terms}
    return [lead for lead in leads if lead.public_identifier.lower() in wanted]


def _merged(found: list[list[LeadSnapshot]], sort: str) -> list[LeadSnapshot]:
    if len(found) == 1:
        return found[0]
    unique = {lead.id: lead for leads in found for lead in leads}
    return sorted(
        unique.values(), key=lambda lead: (lead.created_at, lead.id), reverse=sort == "DESC"
    )


def _verdict(term: str, read: Matching) -> LeadVerdict:
    return LeadVerdict(
        term=term, blocked=bool(_exact((term,), read.leads)), matching=len(read.leads)
    )


def _reads(terms: tuple[str, ...], sort: str) -> dict[str, Matching]:
    """Every match of each text: reused when read lately, else asked of WaLead now."""
    state = _list_state(sort)
    reads = {}
    for term in terms:
        key = _key(state, term)
        read = cache.get(key)
        if read is None:
            read = Matching(leads=leads_matching(search=term, sort=sort), read_at=timezone.now())
            cache.set(key, read, REUSED_SECONDS)
        reads[term] = read
    return reads


def _list_state(sort: str) -> str:
    """What a read is good for: the workspace (its key's fingerprint), the order, and the
    time of our last unblock's progress, read from the database so that every process sees
    a read made stale by it."""
    changed = Job.objects.filter(provider=Provider.WALEAD).aggregate(at=Max("progressed_at"))["at"]
    fingerprint = key_fingerprint(walead_endpoint().api_key)
    return f"{fingerprint}:{changed.timestamp() if changed else 0}:{sort}"


def _key(state: str, term: str) -> str:
    return f"walead-matching:{state}:{hashlib.sha256(term.encode()).hexdigest()[:32]}"
