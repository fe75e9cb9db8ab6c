"""What the job engine needs from each provider: build a chunk's request, read its answer,
look items up. The engine (jobs.engine) decides everything else, the same way for both.

Each provider's side lives in its own app (``woodpecker.sender``, ``walead.sender``), named
in settings.JOB_SENDERS, so this app does not depend on the providers' apps.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.utils.module_loading import import_string

from suppression_admin.audit.models import Provider
from suppression_admin.audit.services import AuditCallLog
from suppression_admin.jobs.models import Job
from suppression_admin.keys.lock import key_fingerprint, key_turn
from suppression_admin.providers.base import Answer, Request
from suppression_admin.providers.errors import ProviderNotConfigured

KEY_CHANGED = (
    "This worker's {provider} API key is not the one this job was started with; it does not "
    "continue another account's job. Run a worker with the job's key, or cancel the job."
)


class CannotRun(Exception):
    """This process cannot run the job (provider not configured, another account's key).

    The job is left waiting for a worker that can: a worker never ends a job for its own
    configuration.
    """


class PendingItem(NamedTuple):
    position: int
    identifier: str
    label: str = ""


@dataclass
class Verdict:
    """What an answer says: outcomes decided per item, and items it leaves unsettled."""

    # (outcome, detail, identifiers); None for "every item of the chunk still pending".
    decided: list[tuple[str, str, list[str] | None]] = field(default_factory=list)
    unsettled: list[PendingItem] = field(default_factory=list)
    why: str = ""


class Sender:
    """One provider's side of a job. Subclasses build requests and read answers."""

    provider: str

    def __init__(self, job: Job, call_log: AuditCallLog) -> None:
        self.job = job
        self.call_log = call_log

    def turn(self) -> AbstractContextManager[None]:
        """The key's turn: one request at a time per account (see keys.lock)."""
        return key_turn(
            self.job.key_fingerprint,
            provider=Provider(self.provider).label,
            wait_seconds=settings.JOB_KEY_WAIT_SECONDS,
        )

    def fresh_identifiers(self, first: int, last: int) -> list[str] | None:
        """The identifiers at these positions if this side holds them (so a chunk's first
        attempt needs no read); None to read the pending items from the audit."""
        return None

    def request(self, items: Sequence[PendingItem]) -> Request:
        raise NotImplementedError

    def send(self, request: Request, *, recorded: object, meanwhile: Callable[[], None]) -> Answer:
        """Send the request (its call row written), run ``meanwhile`` once (while it is out,
        where the provider makes us wait anyway), and read its answer."""
        raise NotImplementedError

    def verdict(self, items: Sequence[PendingItem], answer: Answer) -> Verdict:
        raise NotImplementedError

    def still_listed(self, items: Sequence[PendingItem]) -> set[str]:
        """The identifiers of ``items`` still blocked or blacklisted; raises ProviderError."""
        raise NotImplementedError

    def gone_detail(self, why: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @classmethod
    def unwritten_identifiers(cls, job: Job, first: int, last: int) -> list[str]:
        """Identifiers of items not written yet (only a side whose job writes its items as
        it goes has any)."""
        raise NotImplementedError

    @staticmethod
    def _check_key(job: Job, api_key: str) -> None:
        if key_fingerprint(api_key) != job.key_fingerprint:
            raise CannotRun(KEY_CHANGED.format(provider=Provider(job.provider).label))


def sender_class(provider: str) -> type[Sender]:
    return import_string(settings.JOB_SENDERS[provider])


def sender_for(job: Job, call_log: AuditCallLog) -> Sender:
    """Raises CannotRun when this process cannot reach the job's provider account."""
    try:
        return sender_class(job.provider)(job, call_log)
    except ProviderNotConfigured as error:
        raise CannotRun(str(error)) from error


def unwritten_identifiers(job: Job, first: int, last: int) -> list[str]:
    return sender_class(job.provider).unwritten_identifiers(job, first, last)
