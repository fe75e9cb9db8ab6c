"""What the job engine needs from each provider: build a chunk's request, read its answer,
look items up. The engine (jobs.engine) decides everything else, the same way for both.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings

from suppression_admin.audit.models import ItemOutcome, Provider
from suppression_admin.audit.services import AuditCallLog
from suppression_admin.connections import (
    walead_client,
    walead_endpoint,
    woodpecker_client,
    woodpecker_endpoint,
)
from suppression_admin.jobs.models import Job
from suppression_admin.keys.lock import key_fingerprint, key_turn
from suppression_admin.providers.base import Answer, Request
from suppression_admin.providers.errors import ProviderNotConfigured
from suppression_admin.woodpecker.models import RemovalDraft

KEY_CHANGED = (
    "This worker's {provider} API key is not the one this job was started with; it does not "
    "continue another account's job. Run a worker with the job's key, or cancel the job."
)


REMOVED = "Removed from the blacklist."


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
    done_outcome: str

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

    @staticmethod
    def _check_key(job: Job, api_key: str) -> None:
        if key_fingerprint(api_key) != job.key_fingerprint:
            raise CannotRun(KEY_CHANGED.format(provider=Provider(job.provider).label))


class WoodpeckerSender(Sender):
    provider = Provider.WOODPECKER
    done_outcome = ItemOutcome.REMOVED

    def __init__(self, job: Job, call_log: AuditCallLog) -> None:
        super().__init__(job, call_log)
        self._check_key(job, woodpecker_endpoint().api_key)
        self.client = woodpecker_client(call_log=call_log)
        draft = RemovalDraft.objects.only("emails").get(job=job)
        self.emails = draft.email_list()

    def fresh_identifiers(self, first: int, last: int) -> list[str]:
        return self.emails[first : last + 1]

    def request(self, items: Sequence[PendingItem]) -> Request:
        return self.client.removal_request([item.identifier for item in items])

    def send(self, request: Request, *, recorded: object, meanwhile: Callable[[], None]) -> Answer:
        # Woodpecker takes one request at a time: the job's writing is done while it waits.
        return self.client.send_while(request, recorded=recorded, meanwhile=meanwhile)

    def verdict(self, items: Sequence[PendingItem], answer: Answer) -> Verdict:
        removed = {email.lower() for email in self.client.removed_by(answer)}
        gone = [item.identifier for item in items if item.identifier.lower() in removed]
        if len(gone) == len(items):
            return Verdict(decided=[(ItemOutcome.REMOVED, REMOVED, None)])
        # None: every item of the chunk still pending, i.e. those not removed.
        return Verdict(
            decided=[
                (ItemOutcome.REMOVED, REMOVED, gone),
                (ItemOutcome.NOT_LISTED, "Was not on the blacklist.", None),
            ]
        )

    def still_listed(self, items: Sequence[PendingItem]) -> set[str]:
        listed = {email.lower() for email in self.client.lookup([i.identifier for i in items])}
        return {item.identifier for item in items if item.identifier.lower() in listed}

    def gone_detail(self, why: str) -> str:
        return (
            f"{why} Not on the blacklist afterwards (checked by look-up): removed by that "
            "request, or not on it before."
        )

    def close(self) -> None:
        self.client.close()


class WaleadSender(Sender):
    provider = Provider.WALEAD
    done_outcome = ItemOutcome.UNBLOCKED

    def __init__(self, job: Job, call_log: AuditCallLog) -> None:
        super().__init__(job, call_log)
        self._check_key(job, walead_endpoint().api_key)
        self.client = walead_client(call_log=call_log, one_at_a_time=True)

    def request(self, items: Sequence[PendingItem]) -> Request:
        return self.client.unblock_request([item.identifier for item in items])

    def send(self, request: Request, *, recorded: object, meanwhile: Callable[[], None]) -> Answer:
        # WaLead takes requests side by side, so no queue hides our writing: it goes first.
        meanwhile()
        return self.client.send(request, recorded=recorded)

    def verdict(self, items: Sequence[PendingItem], answer: Answer) -> Verdict:
        said = self.client.unblock_answer(answer)
        if said.unblocked >= len(items):
            ids = [item.identifier for item in items]
            return Verdict(decided=[(ItemOutcome.UNBLOCKED, said.message or "Unblocked.", ids)])
        return Verdict(
            unsettled=list(items),
            why=f"WaLead reported {said.unblocked} of {len(items)} unblocked.",
        )

    def still_listed(self, items: Sequence[PendingItem]) -> set[str]:
        # The API cannot look a lead up by id: search its public identifier.
        blocked = set()
        for item in items:
            for lead in self.client.iter_blocked_leads(search=item.label):
                if lead.id == item.identifier:
                    blocked.add(item.identifier)
                    break
        return blocked

    def gone_detail(self, why: str) -> str:
        return f"{why} No longer blocked (checked by look-up)."

    def close(self) -> None:
        self.client.close()


SENDERS: dict[str, type[Sender]] = {
    Provider.WOODPECKER: WoodpeckerSender,
    Provider.WALEAD: WaleadSender,
}


def sender_for(job: Job, call_log: AuditCallLog) -> Sender:
    """Raises CannotRun when this process cannot reach the job's provider account."""
    try:
        return SENDERS[job.provider](job, call_log)
    except ProviderNotConfigured as error:
        raise CannotRun(str(error)) from error


def unwritten_identifiers(job: Job, first: int, last: int) -> list[str]:
    """Identifiers of items not yet written. Only a removal job writes its items as it goes
    (a WaLead job's are all written when it is requested)."""
    draft = RemovalDraft.objects.only("emails").get(job=job)
    return draft.email_list()[first : last + 1]
