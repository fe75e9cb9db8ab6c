"""seed_sandbox and reset_sandbox, and the seed functions they call."""

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.validators import validate_email

from suppression_admin.sandbox.models import SandboxBlacklistedEmail, SandboxBlockedLead
from suppression_admin.sandbox.seed import _unique, reset_sandbox_data, seed_sandbox_data

pytestmark = pytest.mark.django_db

SLUG = re.compile(r"[a-z]+(-[a-z]+)*(-[0-9a-f]{6,8}|[0-9]{1,2})?(-\d+)?")
REASONS = {
    "Existing client",
    "Requested opt-out",
    "Unsubscribed",
    "Competitor",
    "GDPR erasure request",
    None,
}


def test_seed_command_creates_the_default_counts(capsys):
    call_command("seed_sandbox")
    assert SandboxBlockedLead.objects.count() == 300
    assert SandboxBlacklistedEmail.objects.count() == 5000
    assert "300" in capsys.readouterr().out


def test_seed_command_is_idempotent_and_deterministic():
    call_command("seed_sandbox", leads=40, emails=200, seed=7)
    first = set(SandboxBlockedLead.objects.values_list("id", "public_identifier", "reason"))
    first_emails = set(SandboxBlacklistedEmail.objects.values_list("email", flat=True))
    call_command("seed_sandbox", "--leads", "40", "--emails", "200", "--seed", "7")
    assert SandboxBlockedLead.objects.count() == 40
    assert SandboxBlacklistedEmail.objects.count() == 200
    assert set(SandboxBlockedLead.objects.values_list("id", "public_identifier", "reason")) == first
    assert set(SandboxBlacklistedEmail.objects.values_list("email", flat=True)) == first_emails


def test_seed_command_refuses_negative_counts():
    with pytest.raises(CommandError):
        call_command("seed_sandbox", leads=-1)


def test_seeded_data_looks_real():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    seed_sandbox_data(leads=300, emails=1000, now=now)
    leads = list(SandboxBlockedLead.objects.all())
    assert all(SLUG.fullmatch(lead.public_identifier) for lead in leads)
    assert len({lead.public_identifier for lead in leads}) == 300
    reasons = Counter(lead.reason for lead in leads)
    assert set(reasons) == REASONS
    assert reasons[None] > 30
    assert all(re.fullmatch(r"[0-9a-f]{24}", lead.id) for lead in leads)
    dates = [lead.created_at for lead in leads]
    assert min(dates) >= now - timedelta(days=731)
    assert max(dates) <= now
    assert max(dates) - min(dates) > timedelta(days=365)
    emails = list(SandboxBlacklistedEmail.objects.values_list("email", flat=True))
    for email in emails:
        validate_email(email)
        assert email == email.lower()
    assert len({email.split("@")[1] for email in emails}) > 30
    assert any(email.startswith("info@") for email in emails)


def test_unique_values_get_a_tail_once_the_maker_runs_dry():
    values = _unique(random.Random(1), 5, lambda _rng, tie: "same" if tie is None else f"x{tie}")
    assert len(set(values)) == 5
    assert values[0] == "same"


def test_reset_command_deletes_everything(capsys):
    seed_sandbox_data(leads=10, emails=20)
    call_command("reset_sandbox")
    assert not SandboxBlockedLead.objects.exists()
    assert not SandboxBlacklistedEmail.objects.exists()
    assert "10" in capsys.readouterr().out
    assert reset_sandbox_data().leads == 0


@pytest.mark.django_db
def test_seed_if_empty_keeps_existing_data():
    call_command("seed_sandbox", leads=5, emails=5, stdout=StringIO())
    SandboxBlockedLead.objects.first().delete()
    out = StringIO()
    call_command("seed_sandbox", if_empty=True, stdout=out)
    assert SandboxBlockedLead.objects.count() == 4
    assert "keeping its data" in out.getvalue()


@pytest.mark.django_db
def test_seed_if_empty_seeds_an_empty_sandbox():
    call_command("seed_sandbox", if_empty=True, leads=3, emails=2, stdout=StringIO())
    assert SandboxBlockedLead.objects.count() == 3
