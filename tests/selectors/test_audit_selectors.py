"""Audit selectors: every filter, identifier search, counts, and a bounded number of queries."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import FieldFetchBlocked
from django.utils import timezone

from suppression_admin.audit.models import ItemOutcome, Operation, OperationStatus, Provider
from suppression_admin.audit.selectors import (
    operation_calls,
    operation_items,
    operation_with_details,
    operations_filtered,
)
from suppression_admin.audit.services import ItemDraft
from tests.audit_factories import record_operation

pytestmark = pytest.mark.django_db


def ids(operations) -> set[int]:
    return {operation.pk for operation in operations}


@pytest.fixture
def maria(operator) -> Operation:
    return record_operation(
        operator,
        [ItemDraft("101", "maria-gonzalez"), ItemDraft("102", "li-wei")],
        purpose="unblock",
        extra_calls=["verify"],
    )


def test_operations_filtered_without_filters_lists_all_newest_first(operator):
    older = record_operation(
        operator, [ItemDraft("1", "a")], created_at=timezone.now() - timedelta(days=1)
    )
    newer = record_operation(operator, [ItemDraft("2", "b")])
    assert [op.pk for op in operations_filtered()] == [newer.pk, older.pk]


def test_operations_filtered_carry_their_stored_counts(operator):
    mixed = record_operation(
        operator,
        [ItemDraft("1", "a"), ItemDraft("2", "b"), ItemDraft("3", "c")],
        outcomes=[ItemOutcome.UNBLOCKED, ItemOutcome.NOT_LISTED, ItemOutcome.FAILED],
        extra_calls=["check"],
    )
    empty = record_operation(operator, [], finish=False)
    counts = {op.pk: (op.item_total, op.item_done, op.call_total) for op in operations_filtered()}
    assert counts == {mixed.pk: (3, 2, 2), empty.pk: (0, 0, 0)}


def test_operations_filtered_dates_are_inclusive_utc_days(operator):
    before = record_operation(
        operator, [ItemDraft("1")], created_at=datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC)
    )
    first = record_operation(
        operator, [ItemDraft("2")], created_at=datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
    )
    last = record_operation(
        operator, [ItemDraft("3")], created_at=datetime(2025, 3, 10, 23, 59, 59, tzinfo=UTC)
    )
    after = record_operation(
        operator, [ItemDraft("4")], created_at=datetime(2025, 3, 11, 0, 0, tzinfo=UTC)
    )

    both = operations_filtered(date_from=date(2025, 3, 1), date_to=date(2025, 3, 10))
    assert ids(both) == {first.pk, last.pk}
    assert ids(operations_filtered(date_from=date(2025, 3, 11))) == {after.pk}
    assert ids(operations_filtered(date_to=date(2025, 2, 28))) == {before.pk}


def test_operations_filtered_actor_matches_part_of_username_ignoring_case(operator, auditor):
    mine = record_operation(operator, [ItemDraft("1")])
    record_operation(auditor, [ItemDraft("2")])
    assert ids(operations_filtered(actor="OLIVIA")) == {mine.pk}


def test_operations_filtered_provider(operator):
    walead = record_operation(operator, [ItemDraft("1", "a")])
    woodpecker = record_operation(
        operator, [ItemDraft("x@example.com")], provider=Provider.WOODPECKER
    )
    assert ids(operations_filtered(provider=Provider.WALEAD)) == {walead.pk}
    assert ids(operations_filtered(provider=Provider.WOODPECKER)) == {woodpecker.pk}


def test_operations_filtered_status(operator):
    succeeded = record_operation(operator, [ItemDraft("1", "a")])
    failed = record_operation(operator, [ItemDraft("2", "b")], outcomes=[ItemOutcome.FAILED])
    assert ids(operations_filtered(status=OperationStatus.SUCCEEDED)) == {succeeded.pk}
    assert ids(operations_filtered(status=OperationStatus.FAILED)) == {failed.pk}


@pytest.mark.parametrize(
    "search",
    ["maria-gonzalez", "MARIA-Gonzalez", "https://www.linkedin.com/in/maria-gonzalez/", "101"],
)
def test_operations_filtered_identifier_finds_every_operation_touching_the_person(
    operator, auditor, maria, search
):
    again = record_operation(
        auditor, [ItemDraft("101", "maria-gonzalez"), ItemDraft("101", "maria-gonzalez")]
    )
    record_operation(operator, [ItemDraft("202", "mario-rossi"), ItemDraft("303", "li-wei")])
    found = list(operations_filtered(identifier=search))
    # Each once, although "again" lists the person twice.
    assert sorted(op.pk for op in found) == sorted([maria.pk, again.pk])


def test_operations_filtered_identifier_matches_emails_ignoring_case(operator):
    first = record_operation(operator, [ItemDraft("Ann@Example.com")], provider=Provider.WOODPECKER)
    second = record_operation(
        operator, [ItemDraft("ann@example.com")], provider=Provider.WOODPECKER
    )
    record_operation(operator, [ItemDraft("bob@example.com")], provider=Provider.WOODPECKER)
    assert ids(operations_filtered(identifier=" ann@EXAMPLE.com ")) == {first.pk, second.pk}


def test_operations_filtered_combines_filters(operator, auditor, maria):
    record_operation(auditor, [ItemDraft("101", "maria-gonzalez")])
    record_operation(
        operator, [ItemDraft("x@example.com", "maria-gonzalez")], provider=Provider.WOODPECKER
    )
    found = operations_filtered(
        identifier="maria-gonzalez", actor="olivia", provider=Provider.WALEAD
    )
    assert ids(found) == {maria.pk}


def test_operations_filtered_is_one_query_whatever_the_number_of_rows(
    operator, django_assert_num_queries
):
    for n in range(12):
        record_operation(operator, [ItemDraft(str(n), f"lead-{n}"), ItemDraft(f"{n}b")])
    with django_assert_num_queries(1):
        rows = [(op.pk, op.item_total, op.item_done, op.call_total) for op in operations_filtered()]
    assert len(rows) == 12
    assert all(row[1:] == (2, 2, 1) for row in rows)


def test_operations_filtered_raises_on_lazy_loads(operator):
    record_operation(operator, [ItemDraft("1", "a")])
    listed = operations_filtered().get()
    with pytest.raises(FieldFetchBlocked):
        _ = listed.actor


def test_operation_details_are_read_in_three_queries_without_lazy_loads(
    operator, maria, django_assert_num_queries
):
    with django_assert_num_queries(3):
        operation = operation_with_details(maria.pk)
        items = list(operation_items(operation))
        calls = list(operation_calls(operation))
    assert (operation.item_total, operation.item_done, operation.call_total) == (2, 2, 2)
    assert [(i.position, i.label, i.call_sequence) for i in items] == [
        (0, "maria-gonzalez", 1),
        (1, "li-wei", 1),
    ]
    assert [(c.sequence, c.purpose) for c in calls] == [(1, "unblock"), (2, "verify")]
    with pytest.raises(FieldFetchBlocked):
        _ = items[0].call


def test_operation_with_details_unknown_pk_is_none(db):
    assert operation_with_details(999_999) is None
