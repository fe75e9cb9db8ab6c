"""WaLead's side of an unblock job (see jobs.senders): the DELETE of a chunk of lead ids, its
answer, the look-up by public identifier that settles what the answer leaves open."""

from collections.abc import Callable, Sequence

from suppression_admin.audit.models import ItemOutcome, Provider
from suppression_admin.audit.services import AuditCallLog
from suppression_admin.connections import walead_client, walead_endpoint
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.senders import PendingItem, Sender, Verdict
from suppression_admin.outside_text import search_term
from suppression_admin.providers.base import Answer, Request


class WaleadSender(Sender):
    provider = Provider.WALEAD

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
        # The API cannot look a lead up by id: search its public identifier (the part of it
        # we could keep as given, when WaLead's text held characters we replaced).
        blocked = set()
        for item in items:
            for lead in self.client.iter_blocked_leads(search=search_term(item.label)):
                if lead.id == item.identifier:
                    blocked.add(item.identifier)
                    break
        return blocked

    def gone_detail(self, why: str) -> str:
        return f"{why} No longer blocked (checked by look-up)."

    def close(self) -> None:
        self.client.close()

    @classmethod
    def unwritten_identifiers(cls, job: Job, first: int, last: int) -> list[str]:
        return []  # an unblock's items are all written when it is requested
