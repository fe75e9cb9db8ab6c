"""Whatever bytes are uploaded, the page answers in words: never a 500, never a silent drop."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suppression_admin.woodpecker.models import RemovalDraft

CSV_ALPHABET = st.sampled_from(
    [b"a", b"@", b".", b",", b";", b"\t", b'"', b"\r", b"\n", b"\xff", b"\x00", b"\xe9", b"x.com"]
)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.one_of(st.binary(max_size=300), st.lists(CSV_ALPHABET, max_size=120).map(b"".join)))
def test_any_upload_is_answered_in_words(operator_client, data):
    before = RemovalDraft.objects.count()
    response = operator_client.post(
        reverse("woodpecker:removal_new"), {"file": SimpleUploadedFile("random.csv", data)}
    )
    assert response.status_code in (200, 302, 400)
    if response.status_code == 302:
        draft = RemovalDraft.objects.latest("created_at")
        # Every row is accounted for: used, invalid or duplicate.
        assert draft.rows == draft.valid_count + draft.invalid_count + draft.duplicate_count
    elif response.status_code == 400:
        assert RemovalDraft.objects.count() == before
        assert b'class="error"' in response.content
