"""Deterministic made-up data for the sandbox providers (used by seed_sandbox / reset_sandbox).

``seed_sandbox_data`` first deletes everything, so running it twice gives the same rows for the
same seed on the same UTC day (dates are spread back from that day's midnight).
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction

from suppression_admin.sandbox.models import (
    SANDBOX_WORKSPACE_ID,
    SandboxBlacklistedEmail,
    SandboxBlockedLead,
    new_lead_id,
)
from suppression_admin.sandbox.seed_data import (
    BLOCK_REASON_WEIGHTS,
    BLOCK_REASONS,
    COMPANY_DOMAINS,
    FIRST_NAMES,
    GENERIC_MAILBOXES,
    LAST_NAMES,
)

DEFAULT_LEADS = 300
DEFAULT_EMAILS = 5000
DEFAULT_SEED = 20240917
SPREAD = timedelta(days=730)
BATCH_SIZE = 500

# Makes one candidate value; a non-None int asks for a tail that makes it distinct.
Maker = Callable[[random.Random, int | None], str]


@dataclass(frozen=True)
class SeedResult:
    leads: int
    emails: int


def reset_sandbox_data() -> SeedResult:
    """Delete every sandbox row; answers how many leads and emails were deleted."""
    with transaction.atomic():
        leads, _ = SandboxBlockedLead.objects.all().delete()
        emails, _ = SandboxBlacklistedEmail.objects.all().delete()
    return SeedResult(leads=leads, emails=emails)


def seed_sandbox_data(
    *,
    leads: int = DEFAULT_LEADS,
    emails: int = DEFAULT_EMAILS,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
) -> SeedResult:
    """Replace all sandbox data with ``leads`` blocked leads and ``emails`` blacklisted emails."""
    rng = random.Random(seed)  # noqa: S311 - repeatable fake data, not secrets
    anchor = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    lead_rows = []
    for slug in _unique(rng, leads, _slug):
        created = _when(rng, anchor)
        lead_rows.append(
            SandboxBlockedLead(
                id=new_lead_id(created, f"{rng.getrandbits(64):016x}"),
                public_identifier=slug,
                reason=rng.choices(BLOCK_REASONS, weights=BLOCK_REASON_WEIGHTS)[0],
                created_at=created,
                workspace_id=SANDBOX_WORKSPACE_ID,
            )
        )
    email_rows = [
        SandboxBlacklistedEmail(email=address, created_at=_when(rng, anchor))
        for address in _unique(rng, emails, _email)
    ]
    with transaction.atomic():
        reset_sandbox_data()
        SandboxBlockedLead.objects.bulk_create(lead_rows, batch_size=BATCH_SIZE)
        SandboxBlacklistedEmail.objects.bulk_create(email_rows, batch_size=BATCH_SIZE)
    return SeedResult(leads=len(lead_rows), emails=len(email_rows))


def _unique(rng: random.Random, count: int, make: Maker) -> list[str]:
    """``count`` distinct values from ``make``, in the order first made."""
    seen: dict[str, None] = {}
    attempts = 0
    while len(seen) < count:
        # After a few misses per row the name lists are running out: ask for a distinct tail.
        tie = attempts if attempts >= count * 4 else None
        seen.setdefault(make(rng, tie), None)
        attempts += 1
    return list(seen)


def _slug(rng: random.Random, tie: int | None) -> str:
    """A LinkedIn-style slug: maria-gonzalez-4b7a21, j-smith, anna-kowalska-ba1b2c3d."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    shape = rng.random()
    if shape < 0.35:
        slug = f"{first}-{last}"
    elif shape < 0.45:
        slug = f"{first[0]}-{last}"
    elif shape < 0.75:
        slug = f"{first}-{last}-{rng.getrandbits(24):06x}"
    elif shape < 0.9:
        slug = f"{first}-{last}-{rng.choice('abcdef')}{rng.getrandbits(28):07x}"
    else:
        slug = f"{first}{last.replace('-', '')}{rng.randint(1, 99)}"
    return slug if tie is None else f"{slug}-{tie}"


def _email(rng: random.Random, tie: int | None) -> str:
    """A company address: first.last@, f.last@, firstlast@ or a generic mailbox like info@."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES).replace("-", "")
    domain = rng.choice(COMPANY_DOMAINS)
    shape = rng.random()
    if shape < 0.5:
        local = f"{first}.{last}"
    elif shape < 0.75:
        local = f"{first[0]}.{last}"
    elif shape < 0.9:
        local = f"{first}{last}"
    else:
        local = rng.choice(GENERIC_MAILBOXES)
    if tie is not None:
        local = f"{local}{tie}"
    return f"{local}@{domain}"


def _when(rng: random.Random, anchor: datetime) -> datetime:
    return anchor - timedelta(seconds=rng.randrange(int(SPREAD.total_seconds())))


def sandbox_has_data() -> bool:
    return SandboxBlockedLead.objects.exists() or SandboxBlacklistedEmail.objects.exists()
