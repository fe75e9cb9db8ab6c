"""WaLead's workspace blocked-leads API (see shared/PROVIDERS.md)."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from suppression_admin.providers.base import Answer, ProviderClient, Request
from suppression_admin.providers.errors import ProviderMalformedAnswer

BLOCKED_LEADS_PATH = "/v1/blocked-leads"
# Paging has no page size and no total, so a server that never returns an empty page
# would page forever: stop after this many pages.
MAX_PAGES = 2000
# WaLead's ids are 24 characters; the audit keeps what a provider knows an item by in 320.
MAX_LEAD_ID_LENGTH = 320

Sort = Literal["ASC", "DESC"]


@dataclass(frozen=True)
class BlockedLead:
    id: str
    public_identifier: str
    reason: str | None
    created_at: str
    workspace_id: str | None = None

    @property
    def profile_url(self) -> str:
        return f"https://www.linkedin.com/in/{quote(self.public_identifier, safe='')}/"


@dataclass(frozen=True)
class UnblockAnswer:
    success: bool
    message: str
    unblocked: int


class WaleadClient(ProviderClient):
    name = "WaLead"

    def list_blocked_leads(
        self, *, offset: int = 0, sort: Sort = "DESC", search: str = ""
    ) -> list[BlockedLead]:
        """One page, as many rows as the server decides. An empty list means no more pages."""
        answer = self._request(
            "GET",
            BLOCKED_LEADS_PATH,
            params={"sort": sort, "offset": offset, "search": search},
        )
        return self._parse_leads(answer)

    def iter_blocked_leads(
        self, *, sort: Sort = "DESC", search: str = "", offset: int = 0
    ) -> Iterator[BlockedLead]:
        """Every matching lead from ``offset``, advancing it by the rows received until a page
        is empty. A page is asked for only when the one before has been taken."""
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.list_blocked_leads(offset=offset, sort=sort, search=search)
            if not page:
                return
            fresh = [lead for lead in page if lead.id not in seen]
            if not fresh:
                raise ProviderMalformedAnswer(
                    f"{self.name} returned the same leads again at offset {offset}; "
                    "paging does not advance.",
                    provider=self.name,
                )
            seen.update(lead.id for lead in fresh)
            yield from fresh
            offset += len(page)
        raise ProviderMalformedAnswer(
            f"{self.name} kept returning pages after {MAX_PAGES}; stopped paging.",
            provider=self.name,
        )

    def unblock(self, lead_ids: Sequence[str]) -> UnblockAnswer:
        """DELETE the given blocked-lead ids (not public identifiers). One request."""
        return self.unblock_answer(self.send(self.unblock_request(lead_ids)))

    def unblock_request(self, lead_ids: Sequence[str]) -> Request:
        """The DELETE for these ids, built to be recorded before it is sent."""
        return self.build(
            "DELETE", BLOCKED_LEADS_PATH, json_body=list(lead_ids), item_count=len(lead_ids)
        )

    def unblock_answer(self, answer: Answer) -> UnblockAnswer:
        data = answer.data
        unblocked = data.get("unblocked") if isinstance(data, dict) else None
        if not isinstance(unblocked, int) or isinstance(unblocked, bool) or unblocked < 0:
            raise self._malformed(answer, "no readable 'unblocked' count")
        message = data.get("message")
        return UnblockAnswer(
            success=data.get("success") is True,
            message=message if isinstance(message, str) else "",
            unblocked=unblocked,
        )

    def block(self, leads: Sequence[tuple[str, str | None]]) -> int:
        """Block (public identifier, reason) pairs; returns the provider's ``blocked`` count."""
        payload = {
            "leads": [
                {"publicIdentifier": slug, **({"reason": reason} if reason else {})}
                for slug, reason in leads
            ]
        }
        answer = self._request("POST", BLOCKED_LEADS_PATH, json_body=payload, item_count=len(leads))
        data = answer.data
        blocked = data.get("blocked") if isinstance(data, dict) else None
        if not isinstance(blocked, int) or isinstance(blocked, bool):
            raise self._malformed(answer, "no readable 'blocked' count")
        return blocked

    def _parse_leads(self, answer: Answer) -> list[BlockedLead]:
        if not isinstance(answer.data, list):
            raise self._malformed(answer, "a list of blocked leads was expected")
        return [self._parse_lead(answer, row) for row in answer.data]

    def _parse_lead(self, answer: Answer, row: Any) -> BlockedLead:
        if not isinstance(row, dict):
            raise self._malformed(answer, "a blocked lead is not an object")
        lead_id, slug = row.get("id"), row.get("publicIdentifier")
        if isinstance(lead_id, int) and not isinstance(lead_id, bool):
            lead_id = str(lead_id)
        if not isinstance(lead_id, str) or not lead_id or not isinstance(slug, str):
            raise self._malformed(answer, "a blocked lead has no id or publicIdentifier")
        if len(lead_id) > MAX_LEAD_ID_LENGTH:
            raise self._malformed(
                answer, f"a blocked lead's id is {len(lead_id):,} characters long"
            )
        reason = row.get("reason")
        created_at = row.get("createdAt")
        workspace_id = row.get("workspaceId")
        return BlockedLead(
            id=lead_id,
            public_identifier=slug,
            reason=reason if isinstance(reason, str) else None,
            created_at=created_at if isinstance(created_at, str) else "",
            workspace_id=str(workspace_id) if workspace_id is not None else None,
        )
