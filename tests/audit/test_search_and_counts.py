"""Fast at scale: the items' search key and its index, ticket and reason search, stored
counts kept current, and the guards on the new columns."""

import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Count

from suppression_admin.audit.identifiers import item_search_key, normalised
from suppression_admin.audit.models import DONE_OUTCOMES, ItemOutcome, Operation, Provider
from suppression_admin.audit.selectors import PREFIX, items_matching, operations_filtered
from suppression_admin.audit.services import ItemDraft, operation_add_items
from tests.audit_factories import record_operation
from tests.woodpecker.factories import addresses, run, start_job

pytestmark = pytest.mark.django_db


def ids(operations) -> set[int]:
    return {operation.pk for operation in operations}


def email_operation(operator, *emails: str, **kwargs) -> Operation:
    return record_operation(
        operator, [ItemDraft(email) for email in emails], provider=Provider.WOODPECKER, **kwargs
    )


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("  Maria@Example.COM ", "maria@example.com"),
        ("https://www.linkedin.com/in/Maria-Gonzalez/", "maria-gonzalez"),
        ("linkedin.com/in/j%C3%B6rg-m?trk=x", "jörg-m"),
        ("MARIA-gonzalez", "maria-gonzalez"),
    ],
)
def test_normalised_is_what_a_person_means(typed, key):
    assert normalised(typed) == key


def test_an_item_is_found_by_its_public_identifier_or_else_its_identifier():
    assert item_search_key("101", "Maria-Gonzalez") == "maria-gonzalez"
    assert item_search_key("Ann@Example.com") == "ann@example.com"


def test_items_carry_their_search_key_on_every_path(operator):
    started = record_operation(operator, [ItemDraft("101", "Maria-Gonzalez")], finish=False)
    operation_add_items(started, [" Bob@Example.com"], first_position=1)
    keys = list(started.items.order_by("position").values_list("search_key", flat=True))
    assert keys == ["maria-gonzalez", "bob@example.com"]


def test_identifier_search_is_exact_unless_asked_for_the_start(operator):
    maria = email_operation(operator, "maria@example.com")
    marianne = email_operation(operator, "marianne@example.com")
    email_operation(operator, "anna.maria@example.com")
    assert ids(operations_filtered(identifier="MARIA@example.com")) == {maria.pk}
    assert ids(operations_filtered(identifier="maria")) == set()
    assert ids(operations_filtered(identifier="Maria", match=PREFIX)) == {maria.pk, marianne.pk}


@pytest.mark.parametrize("wildcard", ["%", "_"])
def test_prefix_search_takes_wildcards_literally(operator, wildcard):
    literal = email_operation(operator, f"a{wildcard}b@example.com")
    email_operation(operator, "axb@example.com")
    assert ids(operations_filtered(identifier=f"a{wildcard}", match=PREFIX)) == {literal.pk}


def test_a_lead_is_found_by_its_lead_id_exactly(operator):
    lead = record_operation(operator, [ItemDraft("AbC101", "maria-gonzalez")])
    assert ids(operations_filtered(identifier="AbC101")) == {lead.pk}
    assert ids(operations_filtered(identifier="AbC1")) == set()


def test_ticket_search_exact_and_by_its_start(operator):
    first = email_operation(operator, "a@example.com", ticket="SUP-1234")
    second = email_operation(operator, "b@example.com", ticket="SUP-1299")
    email_operation(operator, "c@example.com", ticket="OPS-1234")
    assert ids(operations_filtered(ticket="SUP-1234")) == {first.pk}
    assert ids(operations_filtered(ticket="SUP-12", match=PREFIX)) == {first.pk, second.pk}
    assert ids(operations_filtered(ticket="SUP-12")) == set()


def test_reason_words_all_count_within_the_other_filters(operator, auditor):
    mine = email_operation(operator, "a@example.com", reason="Blocked by mistake in March")
    email_operation(operator, "b@example.com", reason="A mistake")
    email_operation(auditor, "c@example.com", reason="Blocked by MISTAKE, in March")
    found = operations_filtered(reason="march  Mistake", actor="olivia")
    assert ids(found) == {mine.pk}


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test tables are tiny: a scan would win. Is the index usable at all?
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " ".join(str(row) for row in cursor.fetchall())


@pytest.mark.parametrize("match", ["exact", PREFIX])
def test_identifier_and_ticket_searches_use_their_indexes(operator, match):
    email_operation(operator, "maria@example.com", ticket="SUP-1")
    assert "audit_item_search_key" in _plan(items_matching("maria@example.com", match))
    tickets = operations_filtered(ticket="SUP-1", match=match)
    assert "audit_operation_ticket" in _plan(tickets)


# Committed for real: the fake provider answers on its own thread, and reads the counts there.
@pytest.mark.django_db(transaction=True)
def test_stored_counts_follow_a_job_as_it_runs_and_end_exact(operator, fake_woodpecker, clock):
    emails = addresses(1200)
    listed = set(emails[::2])
    seen = []

    def answer(request):
        # What the audit list would show while this request is out.
        seen.append(Operation.objects.values("item_done", "call_total").get())
        connection.close()  # this thread's own connection: nothing may keep the database open
        asked = json.loads(request.body)["emails"]
        removed = [email for email in asked if email in listed]
        return 200, {}, json.dumps({"emails": removed})

    fake_woodpecker.on("DELETE", answer)
    job = run(start_job(operator, emails))
    operation = Operation.objects.get(pk=job.pk)
    # Each call counted before it went out; by the third, the first chunk's 500 outcomes
    # (250 removed, 250 not on the list) were counted. The second chunk's are written while
    # the third request is out, so this snapshot may or may not hold them yet.
    assert [snapshot["call_total"] for snapshot in seen] == [1, 2, 3]
    assert seen[0]["item_done"] == 0
    assert 250 <= seen[2]["item_done"] <= 1000
    actual = dict(operation.items.order_by().values_list("outcome").annotate(n=Count("pk")))
    assert operation.outcome_counts == actual == {"removed": 600, "not_listed": 600}
    assert operation.item_total == 1200
    assert operation.item_done == sum(n for o, n in actual.items() if o in DONE_OUTCOMES)
    assert operation.call_total == operation.calls.count() == 3


def test_counts_of_an_operation_without_a_job(operator):
    operation = record_operation(
        operator,
        [ItemDraft("1", "a"), ItemDraft("2", "b"), ItemDraft("3", "c")],
        outcomes=[ItemOutcome.UNBLOCKED, ItemOutcome.GONE, ItemOutcome.FAILED],
        extra_calls=["verify"],
    )
    assert (operation.item_total, operation.item_done, operation.call_total) == (3, 2, 2)
    assert operation.outcome_counts == {"unblocked": 1, "gone": 1, "failed": 1}


def _raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_search_key_and_the_final_counts_cannot_be_changed(operator):
    running = record_operation(operator, [ItemDraft("1", "maria")], finish=False)
    finished = record_operation(operator, [ItemDraft("2", "li-wei")])
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(
            "UPDATE audit_operationitem SET search_key = %s WHERE operation_id = %s",
            ["someone-else", running.pk],
        )
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("UPDATE audit_operation SET item_done = 0 WHERE id = %s", [finished.pk])
    assert running.items.get().search_key == "maria"
    assert Operation.objects.get(pk=finished.pk).item_done == 1


def test_tickets_are_found_however_they_are_typed(operator):
    found = email_operation(operator, "a@example.com", ticket=" SUP-1234 ")
    assert ids(operations_filtered(ticket="sup-1234")) == {found.pk}
    assert ids(operations_filtered(ticket="Sup-12", match=PREFIX)) == {found.pk}
    assert Operation.objects.get(pk=found.pk).ticket == " SUP-1234 "  # kept as typed


def test_a_linkedin_identifier_matches_encoded_or_not(operator):
    encoded = record_operation(operator, [ItemDraft("101", "jos%C3%A9-m")])
    plain = record_operation(operator, [ItemDraft("102", "José-M")])
    assert ids(operations_filtered(identifier="josé-m")) == {encoded.pk, plain.pk}
    assert ids(operations_filtered(identifier="jos%c3%a9-m")) == {encoded.pk, plain.pk}


def test_an_identifier_naming_nobody_matches_nothing(operator):
    email_operation(operator, "a@example.com")
    assert ids(operations_filtered(identifier="linkedin.com/in/%2F", match=PREFIX)) == set()


def test_a_prefix_ending_just_below_the_surrogates_is_searchable(operator):
    email_operation(operator, "a@example.com", ticket="X\ud7ff")
    assert len(ids(operations_filtered(ticket="x\ud7ff", match=PREFIX))) == 1


def test_no_call_is_recorded_for_a_finished_operation(operator):
    from suppression_admin.audit.services import AuditCallLog

    finished = record_operation(operator, [ItemDraft("1", "a")])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCallLog(finished).started(method="GET", path="/x", item_count=0, body="")
    assert Operation.objects.get(pk=finished.pk).calls.count() == 1
