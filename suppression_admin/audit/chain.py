"""Tamper evidence: finished operations chained by hash, and checked against that chain.

When an operation finishes, it gets the next sequence number and a SHA-256 over the previous
seal's hash and the SHA-256 of a canonical form of the operation: what was asked, by whom,
its status, a digest of its items, its calls and its events so far (``AuditSeal``).
Changing, removing or adding any of that afterwards changes the hash; removing a seal leaves
a gap in the numbers; cutting seals off the end is caught against a checkpoint kept outside
the database (``checkpoint_sign``).

The canonical form is JSON lines with sorted keys, read and hashed a row at a time, so an
operation of a million items is sealed and checked in flat memory.
"""

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Max

from suppression_admin.audit.models import (
    AuditSeal,
    ItemOutcome,
    Operation,
    OperationEvent,
    OperationItem,
    ProviderCall,
)

GENESIS = "0" * 64
# PostgreSQL: one seal at a time (sequence numbers are taken in order). SQLite serialises
# writing transactions by itself.
CHAIN_LOCK = 0x5EA1_C4A1


def operation_seal(operation: Operation, *, items: "ItemsDigest | None" = None) -> AuditSeal:
    """Inside the transaction that finishes ``operation``: give it the chain's next link.

    ``items``, taken before that transaction (``items_digest``), spares hashing a big
    operation's items while holding the database's write lock (SQLite) and the chain's; it
    is used only if it still holds, else the items are hashed again here.
    """
    if items is None or not items.holds(operation.pk):
        items = items_digest(operation.pk)
    events = OperationEvent.objects.filter(operation_id=operation.pk).count()
    content = content_hash(operation.pk, events, items=items)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
    head = AuditSeal.objects.order_by("-sequence").values("sequence", "hash").first()
    previous = head["hash"] if head else GENESIS
    return AuditSeal.objects.create(
        sequence=(head["sequence"] + 1) if head else 1,
        operation_id=operation.pk,
        events_sealed=events,
        previous_hash=previous,
        hash=link_hash(previous, content),
    )


def link_hash(previous_hash: str, content: str) -> str:
    return hashlib.sha256(f"{previous_hash}:{content}".encode()).hexdigest()


@dataclass(frozen=True)
class ItemsDigest:
    """The SHA-256 of an operation's items (in order), and how many there were.

    Once no item is pending none can change (audit migration 0005 refuses it), so a digest
    taken then still holds later if no item was added.
    """

    operation_id: int
    count: int
    hash: str
    final: bool

    def holds(self, operation_id: int) -> bool:
        if not self.final or operation_id != self.operation_id:
            return False
        return OperationItem.objects.filter(operation_id=operation_id).count() == self.count


def items_digest(operation_id: int) -> ItemsDigest:
    digest, count, final = hashlib.sha256(), 0, True
    items = OperationItem.objects.filter(operation_id=operation_id).order_by("position")
    for item in items.values(*ITEM_FIELDS).iterator(chunk_size=5000):
        digest.update(_line("item", item))
        count += 1
        final = final and item["outcome"] != ItemOutcome.PENDING
    return ItemsDigest(operation_id, count, digest.hexdigest(), final)


def content_hash(operation_id: int, events: int, *, items: ItemsDigest | None = None) -> str:
    digest = hashlib.sha256()
    for line in canonical_lines(operation_id, events, items or items_digest(operation_id)):
        digest.update(line)
    return digest.hexdigest()


def canonical_lines(operation_id: int, events: int, items: ItemsDigest) -> Iterator[bytes]:
    """The operation as JSON lines: itself, its items' digest, its calls by sequence, its
    first ``events`` events. Everything a reader of the audit relies on."""
    operation = Operation.objects.filter(pk=operation_id).values(*OPERATION_FIELDS).get()
    yield _line("operation", operation)
    yield _line("items", {"count": items.count, "sha256": items.hash})
    calls = ProviderCall.objects.filter(operation_id=operation_id).order_by("sequence")
    for call in calls.values(*CALL_FIELDS).iterator(chunk_size=500):
        yield _line("call", call)
    sealed = OperationEvent.objects.filter(operation_id=operation_id).order_by("id")[:events]
    for event in sealed.values(*EVENT_FIELDS):
        yield _line("event", event)


OPERATION_FIELDS = (
    "id",
    "provider",
    "action",
    "actor_username",
    "created_at",
    "started_at",
    "finished_at",
    "reason",
    "ticket",
    "source",
    "source_detail",
    "client_ip",
    "user_agent",
    "status",
    "summary",
    "idempotency_key",
)
ITEM_FIELDS = ("position", "identifier", "label", "original_reason", "outcome", "detail", "call_id")
CALL_FIELDS = (
    "id",
    "sequence",
    "purpose",
    "batch",
    "method",
    "path",
    "item_count",
    "request_body",
    "started_at",
    "finished_at",
    "duration_ms",
    "status_code",
    "answer_excerpt",
    "error",
)
EVENT_FIELDS = ("id", "at", "kind", "actor_username", "detail")


def _line(kind: str, row: dict) -> bytes:
    return (json.dumps([kind, row], sort_keys=True, default=_text) + "\n").encode()


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# -- checking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """The first link of the chain that does not hold, in words."""

    sequence: int | None
    operation_id: int | None
    reason: str

    def __str__(self) -> str:
        where = []
        if self.sequence is not None:
            where.append(f"seal {self.sequence}")
        if self.operation_id is not None:
            where.append(f"operation #{self.operation_id}")
        return f"{', '.join(where) or 'the chain'}: {self.reason}"


def chain_verify(*, until: int | None = None) -> tuple[int, Broken | None]:
    """Recompute the chain from the first seal. Returns (links checked, first broken link)."""
    previous, expected, checked = GENESIS, 1, 0
    for seal in AuditSeal.objects.order_by("sequence").iterator(chunk_size=1000):
        if until is not None and seal.sequence > until:
            break
        if seal.sequence != expected:
            return checked, Broken(
                expected, None, f"missing (the next seal found is {seal.sequence})"
            )
        if seal.previous_hash != previous:
            return checked, Broken(
                seal.sequence, seal.operation_id, "not chained to the one before"
            )
        if not Operation.objects.filter(pk=seal.operation_id).exists():
            return checked, Broken(seal.sequence, seal.operation_id, "its operation is missing")
        content = content_hash(seal.operation_id, seal.events_sealed)
        if link_hash(previous, content) != seal.hash:
            return checked, Broken(
                seal.sequence,
                seal.operation_id,
                "the operation, an item, a call or an event differs from what was sealed",
            )
        previous, expected, checked = seal.hash, expected + 1, checked + 1
    unsealed = Operation.objects.filter(finished_at__isnull=False, seal__isnull=True).first()
    if unsealed is not None:
        return checked, Broken(None, unsealed.pk, "finished but not in the chain")
    return checked, None


def chain_head() -> AuditSeal | None:
    return AuditSeal.objects.order_by("-sequence").first()


def checkpoint_sign(key: bytes, *, sequence: int, hash_: str, at: str) -> str:
    message = f"{sequence}:{hash_}:{at}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_make(key: bytes, *, at: str) -> dict:
    head = chain_head()
    sequence, hash_ = (head.sequence, head.hash) if head else (0, GENESIS)
    signature = checkpoint_sign(key, sequence=sequence, hash_=hash_, at=at)
    return {"sequence": sequence, "hash": hash_, "at": at, "signature": signature}


def checkpoint_check(key: bytes, checkpoint: dict) -> Broken | None:
    """Whether the chain still holds what a checkpoint saw (rows cut off the end, say)."""
    try:
        sequence, hash_, at = checkpoint["sequence"], checkpoint["hash"], checkpoint["at"]
        signature = checkpoint["signature"]
    except (KeyError, TypeError):
        return Broken(None, None, "the checkpoint file is not a checkpoint")
    expected = checkpoint_sign(key, sequence=sequence, hash_=hash_, at=at)
    if not hmac.compare_digest(expected, str(signature)):
        return Broken(
            None, None, "the checkpoint's signature does not match (wrong key, or edited)"
        )
    if sequence == 0:
        return None
    seal = AuditSeal.objects.filter(sequence=sequence).first()
    if seal is None:
        last = AuditSeal.objects.aggregate(n=Max("sequence"))["n"] or 0
        return Broken(
            sequence, None, f"the checkpoint of {at} saw it; the chain now ends at seal {last}"
        )
    if seal.hash != hash_:
        return Broken(sequence, seal.operation_id, f"differs from the checkpoint of {at}")
    return None
