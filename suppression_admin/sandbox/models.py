"""The sandbox providers' state: what a fake WaLead and a fake Woodpecker account hold.

Nothing here is real data; the rows exist only so the sandbox endpoints can answer with the
providers' documented shapes over real HTTP.
"""

import secrets
from datetime import datetime

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

# The one WaLead workspace the sandbox serves (a Mongo-like id, as WaLead's ids are).
SANDBOX_WORKSPACE_ID = "65a1f0c2e4b0d1a2b3c4d5e6"


def new_lead_id(created_at: datetime, random_hex: str | None = None) -> str:
    """A Mongo-ObjectId-like id: 8 hex digits of creation time, then 16 random hex digits."""
    suffix = random_hex if random_hex is not None else secrets.token_hex(8)
    return f"{int(created_at.timestamp()) & 0xFFFFFFFF:08x}{suffix}"


class SandboxBlockedLead(models.Model):
    """A LinkedIn profile on the sandbox WaLead workspace's blocked list."""

    # WaLead ids are 24-hex-char Mongo ObjectIds; the first 8 hex digits are the creation time.
    id = models.CharField(primary_key=True, max_length=24)
    public_identifier = models.CharField(max_length=200, db_index=True)
    # WaLead answers null when no reason was given, which the UI shows differently from "".
    reason = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now)
    workspace_id = models.CharField(max_length=24, default=SANDBOX_WORKSPACE_ID)

    class Meta:
        ordering = ("created_at", "id")
        indexes = (models.Index(fields=("created_at", "id"), name="sandbox_lead_created_id"),)

    def __str__(self) -> str:
        return self.public_identifier


class SandboxBlacklistedEmail(models.Model):
    """An address on the sandbox Woodpecker account's blacklist, always stored lowercased."""

    email = models.CharField(max_length=254, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)
        constraints = (
            # Look-ups match case-insensitively by comparing lowercased forms, so a mixed-case
            # row would be invisible to them: refuse it at the database.
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="sandbox_email_lowercased"
            ),
        )

    def __str__(self) -> str:
        return self.email
