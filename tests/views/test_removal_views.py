import csv
import io
from datetime import timedelta

import openpyxl
import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from suppression_admin.audit.models import OperationStatus
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.views import BLACKLISTED_REMINDER
from suppression_admin.outside_text import has_unsafe
from suppression_admin.woodpecker.kept_uploads import upload_path
from suppression_admin.woodpecker.models import RemovalDraft
from suppression_admin.woodpecker.preview import draft_lookup_blacklisted
from suppression_admin.woodpecker.removal_views import NOTHING_GIVEN
from suppression_admin.woodpecker.services import REASON_REQUIRED
from tests.conftest import TEST_WOODPECKER_URL, make_user
from tests.woodpecker.factories import run

URL = f"{TEST_WOODPECKER_URL}/v2/blacklist/emails"
HTMX = {"HX-Request": "true"}
pytestmark = pytest.mark.usefixtures("live_providers")

CSV = (
    b"Name,Email,Company\r\n"
    b"Ann,ann@example.com,Acme\r\n"
    b"Bob,not-an-email,Acme\r\n"
    b"Ann again,ANN@example.com ,Acme\r\n"
    b"Cid,cid@example.com,Beta\r\n"
)


def upload(client, content: bytes, name: str = "list.csv"):
    return client.post(
        reverse("woodpecker:removal_new"), {"file": SimpleUploadedFile(name, content)}
    )


def test_new_removal_page_offers_upload_and_paste(operator_client):
    html = operator_client.get(reverse("woodpecker:removal_new")).content.decode()
    assert 'type="file"' in html
    assert "<textarea" in html


def test_nothing_given_is_refused_in_words(operator_client):
    response = operator_client.post(reverse("woodpecker:removal_new"), {})
    assert response.status_code == 400
    assert NOTHING_GIVEN in response.content.decode()


def test_upload_shows_a_preview_that_accounts_for_every_row(operator_client):
    response = upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    assert response.url == reverse("woodpecker:removal_preview", args=[draft.pk])
    assert draft.email_list() == ["ann@example.com", "cid@example.com"]
    assert (draft.rows, draft.invalid_count, draft.duplicate_count) == (4, 1, 1)
    assert draft.filename == "list.csv"
    assert draft.size_bytes == len(CSV)
    assert len(draft.sha256) == 64

    html = operator_client.get(response.url).content.decode()
    assert 'data-testid="valid">2<' in html
    assert 'data-testid="invalid">1<' in html
    assert 'data-testid="duplicates">1<' in html
    assert "not-an-email" in html
    unused = operator_client.get(reverse("woodpecker:removal_unused", args=[draft.pk]))
    rows = list(csv.reader(io.StringIO(unused.content.decode())))
    assert rows[0] == ["row", "value", "reason"]
    assert [row[0] for row in rows[1:]] == ["3", "4"]


def test_a_refused_file_says_why(operator_client):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    response = upload(operator_client, png, "photo.png")
    assert response.status_code == 400
    assert "PNG" in response.content.decode()
    assert RemovalDraft.objects.count() == 0


def test_several_email_columns_ask_which_one_then_use_it(operator_client):
    content = b"work email,personal email\r\na@work.com,a@home.com\r\nb@work.com,b@home.com\r\n"
    response = upload(operator_client, content)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Which column holds the addresses?" in html
    assert "a@home.com" in html
    token = response.context["form"].initial["token"]
    chosen = operator_client.post(
        reverse("woodpecker:removal_column"), {"token": token, "column": 1}
    )
    draft = RemovalDraft.objects.get()
    assert chosen.url == reverse("woodpecker:removal_preview", args=[draft.pk])
    assert draft.email_list() == ["a@home.com", "b@home.com"]


def test_the_column_question_can_be_left_discarding_the_file(operator_client):
    content = b"work email,personal email\r\na@work.com,a@home.com\r\n"
    response = upload(operator_client, content)
    assert "Discard this file and upload another" in response.content.decode()
    token = response.context["form"].initial["token"]
    kept = upload_path(token.hex)
    assert kept.exists()
    left = operator_client.post(
        reverse("woodpecker:removal_column"), {"token": token, "discard": "1"}, follow=True
    )
    assert left.redirect_chain[-1][0] == reverse("woodpecker:removal_new")
    assert "The upload was discarded; nothing was sent to Woodpecker." in left.content.decode()
    assert not kept.exists()
    assert RemovalDraft.objects.count() == 0
    twice = operator_client.post(
        reverse("woodpecker:removal_column"), {"token": token, "discard": "1"}, follow=True
    )
    assert "That upload was already replaced or discarded." in twice.content.decode()
    late = operator_client.post(
        reverse("woodpecker:removal_column"), {"token": token, "column": 0}, follow=True
    )
    assert "That column choice has expired." in late.content.decode()


def test_a_workbook_with_addresses_on_two_sheets_asks_which_then_reads_that_sheet(
    operator_client,
):
    book = openpyxl.Workbook()
    book.active.title = "2024"
    book.active.append(["Email"])
    book.active.append(["old@example.com"])
    current = book.create_sheet("2025")
    current.append(["Email", "Name"])
    current.append(["new@example.com", "Ann"])
    buffer = io.BytesIO()
    book.save(buffer)

    response = upload(operator_client, buffer.getvalue(), "lists.xlsx")
    html = response.content.decode()
    assert "Several sheets hold email addresses (“2024”, “2025”)" in html
    assert 'value="1:0"' in html
    assert "header &quot;Email&quot; on sheet &quot;2025&quot;" in html
    token = response.context["form"].initial["token"]
    operator_client.post(reverse("woodpecker:removal_column"), {"token": token, "column": "1:0"})
    draft = RemovalDraft.objects.get()
    assert draft.email_list() == ["new@example.com"]
    assert draft.column_label == 'header "Email" on sheet "2025"'


def test_a_forged_column_choice_is_refused_in_words(operator_client):
    content = b"work email,personal email\r\na@work.com,a@home.com\r\n"
    token = upload(operator_client, content).context["form"].initial["token"]
    response = operator_client.post(
        reverse("woodpecker:removal_column"), {"token": token, "column": "9:9"}, follow=True
    )
    assert "Column 10 was chosen, but the file has only 2 columns." in response.content.decode()
    assert RemovalDraft.objects.count() == 0


def test_pasted_addresses_make_a_draft(operator_client):
    response = operator_client.post(
        reverse("woodpecker:removal_new"), {"pasted": "a@x.com, b@x.com\nbad\n"}
    )
    draft = RemovalDraft.objects.get()
    assert response.status_code == 302
    assert draft.email_list() == ["a@x.com", "b@x.com"]
    assert draft.invalid_count == 1
    assert draft.filename == ""


@responses.activate
def test_preview_lookup_counts_blacklisted_addresses(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    responses.get(URL, json={"emails": ["cid@example.com"], "total": 1})
    draft_lookup_blacklisted(draft)
    draft.refresh_from_db()
    assert draft.blacklisted_count == 1
    assert "email_filter=ann%40example.com%2Ccid%40example.com" in responses.calls[0].request.url
    fragment = operator_client.get(
        reverse("woodpecker:removal_preview", args=[draft.pk]),
        headers={"HX-Request": "true", "HX-Target": "lookup"},
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="lookup"')
    assert 'data-testid="blacklisted">1<' in fragment
    assert "hx-trigger" not in fragment  # done: it stops polling


def test_preview_polls_while_the_lookup_runs(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    html = operator_client.get(reverse("woodpecker:removal_preview", args=[draft.pk])).content
    assert b'hx-trigger="every 1s"' in html


def test_confirm_needs_a_reason(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    response = operator_client.post(
        reverse("woodpecker:removal_preview", args=[draft.pk]), {"reason": " "}
    )
    assert response.status_code == 400
    assert REASON_REQUIRED in response.content.decode()
    assert Job.objects.count() == 0


def test_confirming_twice_starts_one_job(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    url = reverse("woodpecker:removal_preview", args=[draft.pk])
    first = operator_client.post(url, {"reason": "Re-engaged clients", "ticket": "T-1"})
    second = operator_client.post(url, {"reason": "Re-engaged clients", "ticket": "T-1"})
    job = Job.objects.get()
    assert first.url == second.url == reverse("jobs:detail", args=[job.pk])
    page = operator_client.get(second.url).content.decode()
    assert "This removal was already confirmed: nothing was sent again." in page
    assert job.operation.source_detail["file_name"] == "list.csv"
    assert job.operation.ticket == "T-1"


def test_the_audit_records_the_client_behind_our_proxy_not_the_proxy(operator_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    operator_client.post(
        reverse("woodpecker:removal_preview", args=[draft.pk]),
        {"reason": "Re-engaged clients"},
        headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.7"},
        REMOTE_ADDR="10.0.0.2",
    )
    assert Job.objects.get().operation.client_ip == "203.0.113.7"


def test_someone_elses_draft_is_forbidden(operator_client):
    other = make_user("other.operator", "Operators")
    draft = RemovalDraft.objects.create(created_by=other, source="paste", emails="a@x.com")
    response = operator_client.get(reverse("woodpecker:removal_preview", args=[draft.pk]))
    assert response.status_code == 403


def test_job_page_shows_progress_then_the_result(operator_client, operator, fake_woodpecker):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    operator_client.post(
        reverse("woodpecker:removal_preview", args=[draft.pk]), {"reason": "Cleanup"}
    )
    job = Job.objects.get()
    page = reverse("jobs:detail", args=[job.pk])
    running = operator_client.get(page, headers={"HX-Request": "true", "HX-Target": "progress"})
    assert running.content.decode().lstrip().startswith('<div id="progress"')
    assert b'hx-trigger="every 1s"' in running.content

    fake_woodpecker.answer("DELETE", json_body={"emails": ["ann@example.com"]})
    assert run(job).status == OperationStatus.SUCCEEDED
    html = operator_client.get(page).content.decode()
    assert 'data-testid="done">1<' in html
    assert 'data-testid="not-listed">1<' in html
    assert BLACKLISTED_REMINDER in html
    assert 'hx-trigger="every 1s"' not in html

    result = operator_client.get(reverse("jobs:result", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(result.streaming_content).decode())))
    assert rows == [
        ["email", "outcome", "detail"],
        ["ann@example.com", "Removed", "Removed from the blacklist."],
        ["cid@example.com", "Was not on the list", "Was not on the blacklist."],
        ["not-an-email", "Invalid", "Row 3: not a valid email address; not sent."],
    ]
    # The audit accounts for the invalid row too, without calling the operation partial.
    job.operation.refresh_from_db()
    assert job.operation.items.count() == 3
    assert job.operation.status == "succeeded"
    assert "1 unusable row in the file, not sent." in job.operation.summary
    mine = operator_client.get(reverse("jobs:mine")).content.decode()
    assert f"#{job.pk}" in mine


def test_job_page_says_when_woodpecker_asked_us_to_wait(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    operator_client.post(reverse("woodpecker:removal_preview", args=[draft.pk]), {"reason": "x"})
    job = Job.objects.get()
    page = reverse("jobs:detail", args=[job.pk])
    assert b'data-testid="resting"' not in operator_client.get(page).content
    resume_at = timezone.now() + timedelta(seconds=30)
    Job.objects.filter(pk=job.pk).update(resume_at=resume_at)
    html = operator_client.get(page).content.decode()
    assert f'resuming at <time datetime="{resume_at.isoformat()}"' in html
    assert f"data-local>{resume_at:%H:%M:%S} UTC</time>" in html  # the viewer's zone in app.js


def test_cancel_asks_the_job_to_stop(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    operator_client.post(reverse("woodpecker:removal_preview", args=[draft.pk]), {"reason": "x"})
    job = Job.objects.get()
    operator_client.post(reverse("jobs:cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.cancel_requested


def test_result_csv_neutralises_formula_looking_addresses(operator_client, operator):
    from suppression_admin.audit.models import OperationItem
    from tests.woodpecker.factories import start_job

    job = start_job(operator, ["=cmd@x.com"])
    OperationItem.objects.create(operation=job.operation, position=0, identifier="=cmd@x.com")
    result = operator_client.get(reverse("jobs:result", args=[job.pk]))
    assert "'=cmd@x.com" in b"".join(result.streaming_content).decode()


def test_addresses_ticked_on_the_blacklist_page_go_to_the_same_preview(operator_client):
    response = operator_client.post(
        reverse("woodpecker:removal_selected"), {"email": ["a@x.com", "b@x.com"]}
    )
    draft = RemovalDraft.objects.get()
    assert response.url == reverse("woodpecker:removal_preview", args=[draft.pk])
    assert draft.email_list() == ["a@x.com", "b@x.com"]
    operator_client.post(response.url, {"reason": "Asked to be contactable"})
    assert Job.objects.get().operation.source == "web"


@responses.activate
def test_the_blacklist_selection_is_kept_across_pages_and_searches(operator_client):
    responses.get(URL, json={"emails": ["a@x.com", "b@x.com"], "total": 2})
    html = operator_client.get(reverse("woodpecker:blacklist")).content.decode()
    assert 'name="email" value="a@x.com"' in html
    assert 'data-testid="selected-count">0 selected' in html
    tick = reverse("woodpecker:blacklist_selection")
    bar = operator_client.post(
        tick, {"page_email": ["a@x.com", "b@x.com"], "email": ["a@x.com"]}, headers=HTMX
    ).content.decode()
    assert 'data-testid="selected-count">1 selected' in bar
    assert reverse("woodpecker:removal_selected") in bar  # the action, at the top
    # Another search's page: its ticks add to the selection; unticking touches only it.
    operator_client.post(tick, {"page_email": ["c@y.com", "d@y.com"], "email": ["d@y.com"]})
    operator_client.post(tick, {"page_email": ["a@x.com", "b@x.com"], "email": ["b@x.com"]})
    responses.get(URL, json={"emails": ["b@x.com", "e@x.com"], "total": 2})
    html = operator_client.get(reverse("woodpecker:blacklist")).content.decode()
    assert 'value="b@x.com" aria-label="Select b@x.com" checked' in html
    assert 'data-testid="selected-count">2 selected' in html

    operator_client.post(reverse("woodpecker:removal_selected"))
    draft = RemovalDraft.objects.get()
    assert draft.email_list() == ["d@y.com", "b@x.com"]
    assert operator_client.session["woodpecker_selected"] == []  # it became the draft


@responses.activate
def test_all_addresses_matching_a_search_can_be_selected_and_cleared(operator_client):
    matches = [f"p{n}@x.com" for n in range(150)]
    responses.get(URL, json={"emails": matches[:100], "total": 150})
    html = operator_client.get(
        reverse("woodpecker:blacklist"), {"email_filter": "@x.com"}
    ).content.decode()
    assert "Select all 150 matching" in html
    responses.get(URL, json={"emails": matches[:100], "total": 150})
    responses.get(URL, json={"emails": matches[100:], "total": 150})
    done = operator_client.post(
        reverse("woodpecker:blacklist_select_all"), {"email_filter": "@x.com"}, follow=True
    ).content.decode()
    assert "Selected 150 matching addresses (150 in all)." in done
    assert operator_client.session["woodpecker_selected"] == matches
    operator_client.post(reverse("woodpecker:blacklist_selection_clear"))
    assert operator_client.session["woodpecker_selected"] == []


def test_nothing_ticked_goes_back_with_a_word(operator_client):
    response = operator_client.post(reverse("woodpecker:removal_selected"), {}, follow=True)
    assert "Tick at least one address" in response.content.decode()


def test_polling_pages_never_load_the_address_lists(operator_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    operator_client.post(reverse("woodpecker:removal_preview", args=[draft.pk]), {"reason": "x"})
    job = Job.objects.get()
    polls = [
        (reverse("jobs:detail", args=[job.pk]), "progress"),
        (reverse("jobs:mine"), None),
    ]
    with CaptureQueriesContext(connection) as queries:
        for url, target in polls:
            headers = {"HX-Request": "true", "HX-Target": target} if target else {}
            assert operator_client.get(url, headers=headers).status_code == 200
    selected = " ".join(q["sql"] for q in queries if q["sql"].startswith("SELECT"))
    assert '"woodpecker_removaldraft"."emails"' not in selected
    assert '"woodpecker_removaldraft"."unused_csv"' not in selected


def test_the_lookup_poll_does_not_load_the_address_lists(operator_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    with CaptureQueriesContext(connection) as queries:
        operator_client.get(
            reverse("woodpecker:removal_preview", args=[draft.pk]),
            headers={"HX-Request": "true", "HX-Target": "lookup"},
        )
    selected = " ".join(q["sql"] for q in queries)
    assert '"emails"' not in selected
    assert '"unused_csv"' not in selected


def test_a_file_with_hostile_values_after_its_first_8_kb_gives_a_preview(operator_client):
    """Runs on PostgreSQL in CI, which refuses NUL in text and jsonb (SQLite takes it)."""
    header = "Email" + "x" * 300 + "\x07,Note\r\n"
    filler = "".join(f"person{n}@example.com,ok\r\n" for n in range(400))  # > 8 KB
    hostile = (
        "nul\x00@example.com,ok\r\n"
        "bell@exa\x07mple.com,ok\r\n"
        "\u202emoc.elpmaxe@nna,ok\r\n"
        "fine@example.com,note with a NUL \x00 and an escape \x1b[2J\r\n"
        + "a" * 5000
        + "@example.com,ok\r\n"
    )
    content = (header + filler + hostile).encode()
    assert content.index(b"\x00", 400) > 8 * 1024
    response = upload(operator_client, content, "list\x00\u202e.csv")
    assert response.status_code == 302
    draft = RemovalDraft.objects.get()
    assert draft.valid_count == 401  # the filler and fine@example.com
    assert not has_unsafe(draft.filename + draft.column_label)
    assert draft.column_label.startswith('header "Emailxxx')
    reasons = {row[1][:12]: row[2] for row in draft.invalid_rows}
    control = "contains a control or text-direction character (shown as \ufffd)"
    assert reasons == {
        "nul\ufffd@example": control,
        "bell@exa\ufffdmpl": control,
        "\ufffdmoc.elpmaxe": control,
        "a" * 12: "not a valid email address",
    }
    assert all(len(row[1]) <= 320 for row in draft.invalid_rows)
    html = operator_client.get(response.url).content.decode()
    assert not has_unsafe(html)
    assert "nul\ufffd@example.com" in html

    # Starting the removal records each unusable row in the audit, storably.
    operator_client.post(response.url, {"reason": "Clean-up"})
    operation = Job.objects.get().operation
    stored = list(operation.items.values_list("identifier", flat=True))
    assert "nul\ufffd@example.com" in stored
    assert not any("\x00" in value or "\u202e" in value for value in stored)


def preview_of(client, draft, **headers):
    return client.get(
        reverse("woodpecker:removal_preview", args=[draft.pk]), headers=headers
    ).content.decode()


def test_the_preview_leads_with_what_will_happen(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    RemovalDraft.objects.filter(pk=draft.pk).update(blacklisted_count=1)
    html = preview_of(operator_client, draft)
    assert (
        "<strong>1</strong> of these 2 addresses is on the blacklist and will be removed; "
        "1 is not (nothing to do)." in html
    )
    assert 'data-testid="send"' in html
    assert html.count('id="send-button"') == 1


def test_with_none_on_the_blacklist_the_button_gives_way_to_an_explanation(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    RemovalDraft.objects.filter(pk=draft.pk).update(blacklisted_count=0)
    html = preview_of(operator_client, draft)
    assert "None of these 2 addresses is on the blacklist now" in html
    assert 'data-testid="send"' not in html
    assert 'data-testid="send-anyway"' in html  # an explicit choice stays possible
    url = reverse("woodpecker:removal_preview", args=[draft.pk])
    # Enter in a field (no button's value): refused, nothing sent.
    refused = operator_client.post(url, {"reason": "Sure"})
    assert refused.status_code == 400
    assert "None of these addresses is on the blacklist now, so nothing was sent." in (
        refused.content.decode()
    )
    assert Job.objects.count() == 0
    sent = operator_client.post(url, {"reason": "Sure", "send": "anyway"})
    assert sent.url == reverse("jobs:detail", args=[Job.objects.get().pk])


def test_the_polled_count_brings_the_decision_with_it(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    pending = preview_of(operator_client, draft, **{"HX-Request": "true", "HX-Target": "lookup"})
    assert 'id="send-button"' not in pending
    RemovalDraft.objects.filter(pk=draft.pk).update(blacklisted_count=0)
    done = preview_of(operator_client, draft, **{"HX-Request": "true", "HX-Target": "lookup"})
    assert '<div id="send-button" class="stack" hx-swap-oob="true">' in done
    assert "None of these 2 addresses is on the blacklist now" in done


def test_an_upload_can_be_discarded_and_nothing_is_sent(operator_client):
    upload(operator_client, CSV)
    draft = RemovalDraft.objects.get()
    response = operator_client.post(
        reverse("woodpecker:removal_discard", args=[draft.pk]), follow=True
    )
    assert RemovalDraft.objects.count() == 0
    assert "The upload was discarded; nothing was sent to Woodpecker." in response.content.decode()
    assert Job.objects.count() == 0


def test_ticked_addresses_are_named_as_such_not_as_pasted(operator_client):
    operator_client.post(reverse("woodpecker:removal_selected"), {"email": ["a@x.com"]})
    html = preview_of(operator_client, RemovalDraft.objects.get())
    assert "Preview: addresses ticked on the blacklist page" in html
    assert "pasted" not in html
    assert "Discard this upload" not in html


def test_ticked_addresses_go_back_to_the_blacklist_still_ticked(operator_client):
    operator_client.post(reverse("woodpecker:removal_selected"), {"email": ["a@x.com", "b@x.com"]})
    assert operator_client.session["woodpecker_selected"] == []
    draft = RemovalDraft.objects.get()
    back = operator_client.post(reverse("woodpecker:removal_discard", args=[draft.pk]))
    assert back.url == reverse("woodpecker:blacklist")
    assert sorted(operator_client.session["woodpecker_selected"]) == ["a@x.com", "b@x.com"]
    assert RemovalDraft.objects.count() == 0
    assert Job.objects.count() == 0


def test_the_preview_lists_its_addresses_a_page_at_a_time_and_finds_one(operator_client):
    emails = [f"person{n}@example.com" for n in range(250)]
    operator_client.post(reverse("woodpecker:removal_new"), {"pasted": "\n".join(emails)})
    draft = RemovalDraft.objects.get()
    html = preview_of(operator_client, draft)
    assert "1–100 of 250" in html  # noqa: RUF001
    assert "<td>person99@example.com</td>" in html
    assert "<td>person100@example.com</td>" not in html
    url = reverse("woodpecker:removal_addresses", args=[draft.pk])
    third = operator_client.get(url, {"page": 3}, headers=HTMX).content.decode()
    assert third.lstrip().startswith('<div id="addresses">')
    assert "201–250 of 250" in third  # noqa: RUF001
    assert "Next →" not in third
    found = operator_client.get(url, {"q": "son24"}, headers=HTMX).content.decode()
    assert "1–11 of 11 containing “son24”" in found  # noqa: RUF001


def test_the_preview_marks_each_address_on_the_blacklist_once_counted(operator_client):
    operator_client.post(
        reverse("woodpecker:removal_new"), {"pasted": "ann@example.com\nbob@example.com"}
    )
    draft = RemovalDraft.objects.get()
    assert "being checked" in preview_of(operator_client, draft)
    RemovalDraft.objects.filter(pk=draft.pk).update(
        blacklisted_count=1, blacklisted_emails="bob@example.com"
    )
    polled = preview_of(operator_client, draft, **{"HX-Request": "true", "HX-Target": "lookup"})
    assert '<div id="addresses" hx-swap-oob="true">' in polled  # the marks follow the count
    html = preview_of(operator_client, draft)
    ann = html[html.index("<td>ann@example.com</td>") :].split("</tr>")[0]
    bob = html[html.index("<td>bob@example.com</td>") :].split("</tr>")[0]
    assert "No: nothing to do" in ann
    assert "Yes: will be removed" in bob


def test_the_preview_says_when_it_shows_only_the_first_unused_rows(operator_client):
    content = "email\r\n" + "".join(f"junk{n}\r\n" for n in range(25)) + "ok@example.com\r\n"
    upload(operator_client, content.encode())
    html = preview_of(operator_client, RemovalDraft.objects.get())
    assert "The first 20 of 25; every one is in the CSV below." in html
    assert "<th>Row of the file</th>" in html
