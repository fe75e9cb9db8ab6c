"""Tamper evidence: the hash chain over finished operations catches edits, deletions and cuts.

Each tampering is made with raw SQL and the append-only triggers lifted (``audit_unguarded``),
as someone with the tables' owner role could.
"""

import io
import itertools
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from suppression_admin.audit.chain import GENESIS, chain_verify, checkpoint_make
from suppression_admin.audit.models import AuditSeal, EventKind, ItemOutcome, Provider
from suppression_admin.audit.services import (
    ItemDraft,
    items_set_outcome,
    operation_event,
    operation_finish,
)
from tests.audit_factories import record_operation
from tests.conftest import audit_unguarded

pytestmark = pytest.mark.django_db

KEY = "checkpoint-key-for-tests"


def sql(statement: str, params=()) -> None:
    with audit_unguarded(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def verify(*args: str) -> str:
    """``verify_audit_log``'s output when it passes; raises CommandError when it does not."""
    out = io.StringIO()
    call_command("verify_audit_log", *args, stdout=out)
    return out.getvalue()


def refusal(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        verify(*args)
    assert caught.value.returncode == 1
    return str(caught.value)


@pytest.fixture
def operations(operator):
    """Twelve finished operations of two items each, one call each, in the chain in order."""
    made = []
    for n in range(12):
        operation = record_operation(
            operator,
            [ItemDraft(f"a{n}@x.com"), ItemDraft(f"b{n}@x.com")],
            provider=Provider.WOODPECKER,
            outcome=ItemOutcome.REMOVED,
        )
        made.append(operation)
    return made


@pytest.fixture
def checkpoint_key(settings):
    settings.AUDIT_CHECKPOINT_KEY = KEY
    return KEY


def test_finishing_an_operation_seals_it_as_the_next_link(operations):
    seals = list(AuditSeal.objects.order_by("sequence"))
    assert [seal.sequence for seal in seals] == list(range(1, 13))
    assert [seal.operation_id for seal in seals] == [operation.pk for operation in operations]
    assert seals[0].previous_hash == GENESIS
    for before, seal in itertools.pairwise(seals):
        assert seal.previous_hash == before.hash
    assert len({seal.hash for seal in seals}) == 12


def test_an_unchanged_log_verifies(operations):
    assert chain_verify() == (12, None)
    assert "12 sealed operations, chain intact" in verify()


def test_an_operation_still_running_is_not_sealed_until_it_finishes(operator):
    running = record_operation(operator, [ItemDraft("a@x.com")], finish=False)
    assert not AuditSeal.objects.filter(operation=running).exists()
    assert chain_verify() == (0, None)


def test_an_edited_item_is_caught_and_named(operations):
    victim = operations[4]
    sql(
        "UPDATE audit_operationitem SET outcome = %s WHERE operation_id = %s AND position = 1",
        [ItemOutcome.FAILED, victim.pk],
    )
    message = refusal()
    assert f"seal 5, operation #{victim.pk}" in message
    assert "differs from what was sealed" in message
    assert "4 links checked before it" in message


def test_an_edited_reason_is_caught(operations):
    sql("UPDATE audit_operation SET reason = 'Client asked' WHERE id = %s", [operations[0].pk])
    assert f"operation #{operations[0].pk}" in refusal()


def test_a_deleted_call_is_caught_and_named(operations):
    victim = operations[7]
    sql("UPDATE audit_operationitem SET call_id = NULL WHERE operation_id = %s", [victim.pk])
    sql("DELETE FROM audit_providercall WHERE operation_id = %s", [victim.pk])
    assert f"seal 8, operation #{victim.pk}" in refusal()


def test_a_deleted_event_is_caught_but_later_events_may_be_added(operator, operations):
    running = record_operation(operator, [ItemDraft("a@x.com")], finish=False)
    operation_event(running, EventKind.STARTED, detail="by worker 1")
    items_set_outcome(list(running.items.all()), ItemOutcome.UNBLOCKED, "")
    operation_finish(running)
    assert AuditSeal.objects.get(operation=running).events_sealed == 1

    operation_event(running, EventKind.RETRIED_AS, detail="#99")
    assert chain_verify() == (13, None)  # events after the seal are not part of it

    sql(
        "DELETE FROM audit_operationevent WHERE operation_id = %s AND kind = %s",
        [running.pk, EventKind.STARTED],
    )
    assert f"seal 13, operation #{running.pk}" in refusal()


def test_a_missing_seal_in_the_middle_is_a_gap(operations):
    sql("DELETE FROM audit_auditseal WHERE sequence = 6")
    message = refusal()
    assert "seal 6: missing (the next seal found is 7)" in message


def test_a_whole_operation_removed_with_its_seal_is_caught(operations):
    victim = operations[9]
    for table in ("audit_operationitem", "audit_providercall", "audit_operationevent"):
        sql(f"DELETE FROM {table} WHERE operation_id = %s", [victim.pk])  # noqa: S608
    sql("DELETE FROM audit_auditseal WHERE operation_id = %s", [victim.pk])
    sql("DELETE FROM audit_operation WHERE id = %s", [victim.pk])
    assert "seal 10: missing" in refusal()


def test_a_reforged_seal_breaks_the_link_after_it(operations):
    """Re-hashing an edited operation's own seal is not enough: the next seal holds the old
    hash as its previous one."""
    victim = operations[3]
    sql("UPDATE audit_operation SET reason = 'forged' WHERE id = %s", [victim.pk])
    from suppression_admin.audit.chain import content_hash, link_hash

    seal = AuditSeal.objects.get(operation=victim)
    forged = link_hash(seal.previous_hash, content_hash(victim.pk, seal.events_sealed))
    sql("UPDATE audit_auditseal SET hash = %s WHERE sequence = %s", [forged, seal.sequence])
    message = refusal()
    assert f"seal 5, operation #{operations[4].pk}: not chained to the one before" in message


def test_a_finished_operation_outside_the_chain_is_caught(operations):
    victim = operations[11]
    sql("DELETE FROM audit_auditseal WHERE operation_id = %s", [victim.pk])
    message = refusal()
    assert f"operation #{victim.pk}: finished but not in the chain" in message


def cut_last(operations, n: int) -> None:
    for victim in operations[-n:]:
        for table in ("audit_operationitem", "audit_providercall", "audit_operationevent"):
            sql(f"DELETE FROM {table} WHERE operation_id = %s", [victim.pk])  # noqa: S608
        sql("DELETE FROM audit_auditseal WHERE operation_id = %s", [victim.pk])
        sql("DELETE FROM audit_operation WHERE id = %s", [victim.pk])


def test_cutting_the_last_ten_operations_is_caught_only_against_a_checkpoint(
    operations, checkpoint_key, tmp_path
):
    saved = tmp_path / "head.json"
    call_command("audit_checkpoint", "--output", str(saved), stdout=io.StringIO())
    assert "12 sealed operations" in verify("--checkpoint", str(saved))

    cut_last(operations, 10)

    assert "2 sealed operations, chain intact" in verify()  # the rest is consistent
    message = refusal("--checkpoint", str(saved))
    assert "seal 12: the checkpoint of" in message
    assert "the chain now ends at seal 2" in message


def test_a_checkpoint_catches_a_rewritten_tail(operations, checkpoint_key, tmp_path):
    """Cut the last operation and append a different one: the numbers match, the hash not."""
    saved = tmp_path / "head.json"
    call_command("audit_checkpoint", "--output", str(saved), stdout=io.StringIO())
    cut_last(operations, 1)
    record_operation(operations[0].actor, [ItemDraft("c@x.com")])
    assert "12 sealed operations" in verify()
    assert "seal 12, operation #" in refusal("--checkpoint", str(saved))


def test_a_checkpoint_under_another_key_or_edited_is_refused(operations, settings, tmp_path):
    settings.AUDIT_CHECKPOINT_KEY = "someone-else's key"
    saved = tmp_path / "head.json"
    saved.write_text(json.dumps(checkpoint_make(b"someone-else's key", at="2026-12-01T00:00")))
    settings.AUDIT_CHECKPOINT_KEY = KEY
    assert "signature does not match" in refusal("--checkpoint", str(saved))

    forged = checkpoint_make(KEY.encode(), at="2026-12-01T00:00")
    forged["sequence"] = 3
    saved.write_text(json.dumps(forged))
    assert "signature does not match" in refusal("--checkpoint", str(saved))


def test_checkpoint_output_is_signed_json_without_the_key(operations, checkpoint_key):
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    printed = out.getvalue()
    checkpoint = json.loads(printed)
    head = AuditSeal.objects.order_by("-sequence").first()
    assert checkpoint["sequence"] == 12
    assert checkpoint["hash"] == head.hash
    assert len(checkpoint["signature"]) == 64
    assert KEY not in printed


def test_checkpoint_file_is_owner_only(operations, checkpoint_key, tmp_path):
    saved = tmp_path / "head.json"
    call_command("audit_checkpoint", "--output", str(saved), stdout=io.StringIO())
    assert saved.stat().st_mode & 0o777 == 0o600


def test_checkpoint_needs_a_key(operations, settings):
    settings.AUDIT_CHECKPOINT_KEY = ""
    with pytest.raises(CommandError, match="Set AUDIT_CHECKPOINT_KEY"):
        call_command("audit_checkpoint", stdout=io.StringIO())


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"sequence": 1}'])
def test_an_unreadable_checkpoint_is_named(operations, checkpoint_key, tmp_path, content):
    saved = tmp_path / "head.json"
    saved.write_text(content)
    with pytest.raises(CommandError) as caught:
        verify("--checkpoint", str(saved))
    assert "checkpoint" in str(caught.value)


def test_a_missing_checkpoint_file_is_named(operations, checkpoint_key, tmp_path):
    with pytest.raises(CommandError, match="Cannot read the checkpoint"):
        verify("--checkpoint", str(tmp_path / "nowhere.json"))


def test_seals_themselves_are_append_only(operations):
    from tests.audit.test_append_only import refused

    assert refused("DELETE FROM audit_auditseal WHERE sequence = 12")
    assert refused("UPDATE audit_auditseal SET hash = 'x' WHERE sequence = 12")
    assert AuditSeal.objects.count() == 12
