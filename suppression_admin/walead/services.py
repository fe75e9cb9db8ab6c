"""Unblocking WaLead leads: validate, audit, call the provider, settle, record.

``leads_unblock`` is deliberately not one transaction: the operation and each provider call
are committed before the request they describe (see audit.services), so evidence survives
any crash or rollback.
"""

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from suppression_admin.audit.models import Action, ItemOutcome, Operation, OperationItem, Provider
from suppression_admin.audit.services import (
    AuditCallLog,
    ItemDraft,
    items_set_outcome,
    operation_finish,
    operation_mark_interrupted,
    operation_mark_started,
    operation_start,
)
from suppression_admin.connections import walead_client
from suppression_admin.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderValidationError,
)
from suppression_admin.providers.walead import BlockedLead, WaleadClient

REASON_REQUIRED = "Give a reason for unblocking: it goes into the audit log."
NOTHING_SELECTED = "Select at least one lead to unblock."

# Block reasons that mean the person asked not to be contacted: unblocking them needs care.
OPT_OUT_PATTERN = re.compile(
    r"opt[\s_-]*out|unsubscri|erasure|gdpr|forget|do[\s_-]*not[\s_-]*contact|remove[\s_-]*me"
    r"|deletion|stop",
    re.IGNORECASE,
)

sleep = time.sleep  # replaced in tests


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


def reason_looks_like_opt_out(reason: str | None) -> bool:
    return bool(reason) and OPT_OUT_PATTERN.search(reason) is not None


class _StopOperation(Exception):
    """No further chunk may be sent (e.g. the key was refused)."""


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
) -> Operation:
    """Unblock ``leads`` in WaLead, recording everything in the audit log.

    ``missing_ids`` are ids the caller asked for but could not find on the blocked list:
    they are recorded as failed items and never sent.

    Returns the finished operation; with an ``idempotency_key`` already used, returns that
    earlier operation and sends nothing. Raises UnblockRequestInvalid for a request that
    cannot be sent, ProviderNotConfigured when WaLead has no key (both before any record).
    """
    reason = reason.strip()
    if not reason:
        raise UnblockRequestInvalid(REASON_REQUIRED)
    unique = list({lead.id: lead for lead in leads}.values())
    if not unique and not missing_ids:
        raise UnblockRequestInvalid(NOTHING_SELECTED)
    walead_client()  # fail on missing configuration before writing anything

    found = {lead.id for lead in unique}
    drafts = [
        ItemDraft(identifier=lead.id, label=lead.public_identifier, original_reason=lead.reason)
        for lead in unique
    ] + [ItemDraft(identifier=lead_id) for lead_id in missing_ids if lead_id not in found]
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

    try:
        _run(operation)
    except BaseException as error:
        operation_mark_interrupted(operation, error)
        raise
    return operation


def _run(operation: Operation) -> None:
    operation_mark_started(operation)
    call_log = AuditCallLog(operation)
    client = walead_client(call_log=call_log)
    items = list(operation.items.all())
    to_send = [item for item in items if item.label]
    missing = [item for item in items if not item.label]
    if missing:
        items_set_outcome(
            missing,
            ItemOutcome.NOT_SENT,
            "Not on the workspace blocked list when the request was made; not sent.",
        )
    chunk_size = settings.WALEAD_UNBLOCK_CHUNK_SIZE
    chunks = [to_send[i : i + chunk_size] for i in range(0, len(to_send), chunk_size)]
    try:
        for chunk in chunks:
            _unblock_chunk(client, call_log, chunk)
    except _StopOperation as stop:
        unsent = [item for item in to_send if item.outcome == ItemOutcome.PENDING]
        items_set_outcome(unsent, ItemOutcome.NOT_SENT, f"Not sent: {stop}")
    finally:
        client.close()
    operation_finish(operation)


def _unblock_chunk(
    client: WaleadClient, call_log: AuditCallLog, items: list[OperationItem]
) -> None:
    """Send one chunk, retrying only after answers that prove it was not applied."""
    ids = [item.identifier for item in items]
    max_attempts = settings.PROVIDER_MAX_WRITE_ATTEMPTS
    for attempt in range(1, max_attempts + 1):
        call_log.purpose = "unblock" if attempt == 1 else f"unblock (attempt {attempt})"
        try:
            answer = client.unblock(ids)
        except ProviderAuthError as error:
            items_set_outcome(items, ItemOutcome.FAILED, error.message, call=call_log.last_call)
            raise _StopOperation(error.message) from error
        except ProviderValidationError as error:
            items_set_outcome(items, ItemOutcome.FAILED, error.message, call=call_log.last_call)
            return
        except ProviderError as error:
            if not error.proves_not_applied:
                _settle_by_lookup(client, call_log, items, why=error.message)
                return
            wait = error.retry_after if error.retry_after is not None else 2.0**attempt
            if wait > settings.PROVIDER_MAX_RETRY_AFTER_SECONDS:
                items_set_outcome(
                    items,
                    ItemOutcome.FAILED,
                    f"{error.message} WaLead asked us to wait {wait:.0f} s, longer than the "
                    f"{settings.PROVIDER_MAX_RETRY_AFTER_SECONDS} s we wait; nothing was "
                    "unblocked for these. Try again later.",
                    call=call_log.last_call,
                )
                return
            if attempt == max_attempts:
                items_set_outcome(
                    items,
                    ItemOutcome.FAILED,
                    f"{error.message} Gave up after {attempt} attempts; nothing was unblocked "
                    "for these.",
                    call=call_log.last_call,
                )
                return
            sleep(wait)
            continue

        if answer.unblocked >= len(ids):
            items_set_outcome(
                items,
                ItemOutcome.UNBLOCKED,
                answer.message or "Unblocked.",
                call=call_log.last_call,
            )
        else:
            _settle_by_lookup(
                client,
                call_log,
                items,
                why=f"WaLead reported {answer.unblocked} of {len(ids)} unblocked.",
            )
        return


def _settle_by_lookup(
    client: WaleadClient, call_log: AuditCallLog, items: list[OperationItem], *, why: str
) -> None:
    """Find out which items are still blocked by searching each one's public identifier."""
    write_call = call_log.last_call
    call_log.purpose = "look-up to settle the outcome"
    for item in items:
        try:
            still_blocked = any(
                lead.id == item.identifier for lead in client.iter_blocked_leads(search=item.label)
            )
        except ProviderError as error:
            items_set_outcome(
                [item],
                ItemOutcome.UNKNOWN,
                f"{why} The look-up to check this lead failed too: {error.message}",
                call=write_call,
            )
            continue
        if still_blocked:
            items_set_outcome(
                [item],
                ItemOutcome.FAILED,
                f"{why} Still blocked (checked by look-up).",
                call=write_call,
            )
        else:
            items_set_outcome(
                [item],
                ItemOutcome.UNBLOCKED,
                f"{why} No longer blocked (checked by look-up).",
                call=write_call,
            )


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
