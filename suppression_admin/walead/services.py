"""Unblocking WaLead leads: validate, record the operation and its job, queue it.

The unblock itself runs in the background like a bulk removal (jobs.engine): its chunks,
retries and settling by look-up are the same for both providers. The operation and its
items are committed before anything is sent.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from suppression_admin.audit.models import Action, ItemOutcome, Operation, OperationItem, Provider
from suppression_admin.audit.services import ItemDraft, operation_start
from suppression_admin.connections import walead_client, walead_endpoint
from suppression_admin.jobs.models import RETRIED_OUTCOMES, Job
from suppression_admin.jobs.services import RetryRefused, job_create
from suppression_admin.keys.lock import key_fingerprint
from suppression_admin.outside_text import REPLACEMENT, search_term
from suppression_admin.providers.walead import BlockedLead

REASON_REQUIRED = "Give a reason for unblocking: it goes into the audit log."
NOTHING_SELECTED = "Select at least one lead to unblock."
MISSING = "Not on the workspace blocked list when the request was made; not sent."

# Block reasons that mean the person asked not to be contacted: unblocking them needs care.
OPT_OUT_PATTERN = re.compile(
    r"opt(?:ed)?[\s_-]*out|unsubscri|erasure|gdpr|forget|do[\s_-]*not[\s_-]*contact|remove[\s_-]*me"
    r"|deletion|stop",
    re.IGNORECASE,
)


class UnblockRequestInvalid(ValueError):
    """The request cannot be sent as given; the message says why."""


@dataclass(frozen=True)
class LeadSnapshot:
    """A blocked lead as the operator saw it when selecting it."""

    id: str
    public_identifier: str
    reason: str = ""
    created_at: str = ""

    @classmethod
    def from_lead(cls, lead: BlockedLead) -> "LeadSnapshot":
        return cls(
            id=lead.id,
            public_identifier=lead.public_identifier,
            reason=lead.reason or "",
            created_at=lead.created_at,
        )

    @property
    def looks_like_opt_out(self) -> bool:
        return reason_looks_like_opt_out(self.reason)

    @property
    def text_replaced(self) -> bool:
        """Whether WaLead's text for this lead held characters we replaced (outside_text)."""
        return REPLACEMENT in self.public_identifier or REPLACEMENT in self.reason


def reason_looks_like_opt_out(reason: str | None) -> bool:
    return bool(reason) and OPT_OUT_PATTERN.search(reason) is not None


def leads_unblock(
    *,
    actor: AbstractBaseUser,
    leads: Sequence[LeadSnapshot],
    reason: str,
    ticket: str = "",
    source: str,
    source_detail: dict | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
    idempotency_key: str | None = None,
    missing_ids: Sequence[str] = (),
    retry_of: Job | None = None,
    schedule: bool = True,
) -> Operation:
    """Record the unblock of ``leads`` and queue its job; the job sends it (jobs.engine).

    ``missing_ids`` are ids the caller asked for but could not find on the blocked list:
    they are recorded as not-sent items and never sent.

    Returns the operation (its job has the same number). With an ``idempotency_key``
    already used, returns that earlier operation and records nothing. ``schedule=False``
    leaves running the job to the caller (a command runs it in its own process). Raises
    UnblockRequestInvalid for a request that cannot be sent, ProviderNotConfigured when
    WaLead has no key (both before any record).
    """
    reason = reason.strip()
    if not reason:
        raise UnblockRequestInvalid(REASON_REQUIRED)
    unique = list({lead.id: lead for lead in leads}.values())
    if not unique and not missing_ids:
        raise UnblockRequestInvalid(NOTHING_SELECTED)
    endpoint = walead_endpoint()  # fails on missing configuration before writing anything

    found = {lead.id for lead in unique}
    missing = [lead_id for lead_id in dict.fromkeys(missing_ids) if lead_id not in found]
    drafts = [
        ItemDraft(identifier=lead.id, label=lead.public_identifier, original_reason=lead.reason)
        for lead in unique
    ] + [ItemDraft(identifier=lead_id) for lead_id in missing]
    if retry_of is not None:
        source_detail = {**(source_detail or {}), "retry_of": retry_of.pk}
    if replaced := [lead.id for lead in unique if lead.text_replaced]:
        source_detail = {**(source_detail or {}), "leads_with_replaced_characters": replaced}
    with transaction.atomic():
        operation, created = operation_start(
            provider=Provider.WALEAD,
            action=Action.UNBLOCK,
            actor=actor,
            reason=reason,
            ticket=ticket.strip(),
            source=source,
            source_detail=source_detail,
            items=drafts,
            client_ip=client_ip,
            user_agent=user_agent,
            idempotency_key=idempotency_key,
        )
        if not created:
            return operation
        # Refused before sending: after the positions the job sends.
        operation.items.filter(position__gte=len(unique)).update(
            outcome=ItemOutcome.NOT_SENT, detail=MISSING
        )
        try:
            job_create(
                operation=operation,
                actor=actor,
                key_fingerprint=key_fingerprint(endpoint.api_key),
                total=len(unique),
                items_written=len(unique),
                retry_of=retry_of,
                schedule=schedule,
            )
        except RetryRefused as refused:
            raise UnblockRequestInvalid(str(refused)) from refused
    return operation


def leads_for_retry(job: Job) -> list[LeadSnapshot]:
    """The leads ``job`` did not send or could not settle, as they were when selected."""
    items = OperationItem.objects.filter(
        operation_id=job.pk,
        position__lt=job.total,
        outcome__in=RETRIED_OUTCOMES,
    ).order_by("position")
    return [
        LeadSnapshot(id=item.identifier, public_identifier=item.label, reason=item.original_reason)
        for item in items.only("identifier", "label", "original_reason")
    ]


def leads_matching(*, search: str, sort: str = "DESC") -> list[LeadSnapshot]:
    """Every blocked lead matching ``search``, paging through the API (not audited: a read)."""
    client = walead_client()
    try:
        return [
            LeadSnapshot.from_lead(lead)
            for lead in client.iter_blocked_leads(
                search=search,
                sort=sort,  # type: ignore[arg-type]
            )
        ]
    finally:
        client.close()


def lead_blocked(public_identifier: str) -> bool:
    """Whether the workspace blocks the lead with this public identifier now (a read)."""
    wanted = public_identifier.lower()
    return any(
        lead.public_identifier.lower() == wanted
        for lead in leads_matching(search=search_term(public_identifier))
    )
