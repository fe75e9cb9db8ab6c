"""The CLI runs the real client against the sandbox over loopback, with the web's audit."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from suppression_admin.audit.models import ItemOutcome, Operation, OperationStatus
from suppression_admin.sandbox.models import SandboxBlockedLead
from tests.conftest import make_user

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("sandbox"),
]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("unblock_walead_leads", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def cli_operator():
    return make_user("carl.cli", "Operators")


def test_unblock_by_ids_unblocks_exactly_those_and_audits_them(cli_operator):
    chosen = list(SandboxBlockedLead.objects.order_by("id")[:3])
    before = SandboxBlockedLead.objects.count()
    out = run(
        "--reason",
        "Blocked by mistake",
        "--actor",
        "carl.cli",
        "--ticket",
        "OPS-7",
        *[arg for lead in chosen for arg in ("--id", lead.id)],
    )
    assert "Requested 3, unblocked 3" in out
    assert SandboxBlockedLead.objects.count() == before - 3
    assert not SandboxBlockedLead.objects.filter(id__in=[lead.id for lead in chosen]).exists()

    operation = Operation.objects.get()
    assert (operation.source, operation.status, operation.ticket) == (
        "cli",
        OperationStatus.SUCCEEDED,
        "OPS-7",
    )
    assert {item.identifier: item.label for item in operation.items.all()} == {
        lead.id: lead.public_identifier for lead in chosen
    }
    delete = operation.calls.get(method="DELETE")
    assert sorted(json.loads(delete.request_body)) == sorted(lead.id for lead in chosen)


def test_unknown_id_is_reported_and_exit_status_is_not_zero(cli_operator):
    real = SandboxBlockedLead.objects.first()
    with pytest.raises(CommandError) as caught:
        run("--reason", "r", "--actor", "carl.cli", "--id", real.id, "--id", "no-such-id")
    assert caught.value.returncode == 1
    operation = Operation.objects.get()
    assert operation.status == OperationStatus.PARTIAL
    assert operation.items.get(identifier="no-such-id").outcome == ItemOutcome.NOT_SENT
    assert not SandboxBlockedLead.objects.filter(id=real.id).exists()


def test_search_all_matching_unblocks_every_match_across_pages(cli_operator):
    slug = SandboxBlockedLead.objects.first().public_identifier
    term = slug.split("-")[0]
    matching = set(
        SandboxBlockedLead.objects.filter(public_identifier__icontains=term).values_list(
            "id", flat=True
        )
    )
    out = run("--reason", "Cleanup", "--actor", "carl.cli", "--search", term, "--all-matching")
    assert f"Requested {len(matching)}, unblocked {len(matching)}" in out
    assert not SandboxBlockedLead.objects.filter(id__in=matching).exists()
    assert set(Operation.objects.get().items.values_list("identifier", flat=True)) == matching


def test_search_without_all_matching_is_refused(cli_operator):
    with pytest.raises(CommandError, match="--all-matching"):
        run("--reason", "r", "--actor", "carl.cli", "--search", "a")
    assert Operation.objects.count() == 0


def test_actor_without_the_operator_role_is_refused():
    make_user("ann.auditor", "Auditors")
    lead = SandboxBlockedLead.objects.first()
    with pytest.raises(CommandError, match="may not unblock"):
        run("--reason", "r", "--actor", "ann.auditor", "--id", lead.id)
    assert SandboxBlockedLead.objects.filter(id=lead.id).exists()


def test_unknown_actor_is_refused():
    with pytest.raises(CommandError, match="No active user"):
        run("--reason", "r", "--actor", "ghost", "--id", "x")


def test_blank_reason_is_refused_and_nothing_sent(cli_operator):
    lead = SandboxBlockedLead.objects.first()
    with pytest.raises(CommandError, match="reason"):
        run("--reason", "  ", "--actor", "carl.cli", "--id", lead.id)
    assert SandboxBlockedLead.objects.filter(id=lead.id).exists()
    assert Operation.objects.count() == 0
