"""Woodpecker's side of a removal job (see jobs.senders): the DELETE of a chunk, its answer,
the look-up that settles a lost one."""

from collections.abc import Callable, Sequence

from suppression_admin.audit.models import ItemOutcome, Provider
from suppression_admin.audit.services import AuditCallLog
from suppression_admin.connections import woodpecker_client, woodpecker_endpoint
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.senders import PendingItem, Sender, Verdict
from suppression_admin.providers.base import Answer, Request
from suppression_admin.woodpecker.models import RemovalDraft

REMOVED = "Removed from the blacklist."


class WoodpeckerSender(Sender):
    provider = Provider.WOODPECKER

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

    @classmethod
    def unwritten_identifiers(cls, job: Job, first: int, last: int) -> list[str]:
        draft = RemovalDraft.objects.only("emails").get(job=job)
        return draft.email_list()[first : last + 1]
