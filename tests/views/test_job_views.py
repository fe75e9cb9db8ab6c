"""Job pages: progress, the team's jobs, cancel by anyone (recorded), retry, links both ways."""

import pytest
from django.urls import reverse

from suppression_admin.audit.models import EventKind, OperationStatus
from suppression_admin.jobs.models import Job
from suppression_admin.jobs.services import job_cancel
from suppression_admin.walead.services import LeadSnapshot, leads_unblock
from suppression_admin.woodpecker.models import DraftSource, RemovalDraft
from tests.conftest import make_user
from tests.woodpecker.factories import addresses, run, start_job

pytestmark = pytest.mark.usefixtures("live_providers")


def page(client, job) -> str:
    return client.get(reverse("jobs:detail", args=[job.pk])).content.decode()


def test_the_team_list_shows_everyones_jobs_and_mine_only_my_own(operator_client, operator):
    colleague = make_user("carl.colleague", "Operators")
    mine = start_job(operator, addresses(2))
    theirs = start_job(colleague, addresses(2, prefix="c"))
    mine_html = operator_client.get(reverse("jobs:mine")).content.decode()
    all_html = operator_client.get(reverse("jobs:all")).content.decode()
    assert f"#{mine.pk}<" in mine_html
    assert f"#{theirs.pk}<" not in mine_html
    assert f"#{theirs.pk}<" in all_html
    assert "carl.colleague" in all_html


def test_an_operator_may_cancel_a_colleagues_job_and_is_named(operator_client, operator):
    colleague = make_user("carl.colleague", "Operators")
    job = start_job(colleague, addresses(600))
    response = operator_client.post(reverse("jobs:cancel", args=[job.pk]), follow=True)
    assert "it stopped at once" in response.content.decode()
    job = Job.objects.select_related("operation").get(pk=job.pk)
    # No worker held it and nothing was out: the stop is recorded at once.
    assert job.status == OperationStatus.CANCELLED
    assert job.stop_reason == "Cancelled by olivia.operator."
    event = job.operation.events.get(kind=EventKind.CANCEL_REQUESTED)
    assert event.actor_username == "olivia.operator"
    html = page(operator_client, job)
    assert 'Cancel requested</strong> <span class="muted">(by olivia.operator)' in html
    assert "0 of 600 sent" in html  # the bar shows what was sent, not 100 %


def test_an_auditor_without_the_operator_role_cannot_cancel(auditor_client, operator):
    job = start_job(operator, addresses(1))
    assert auditor_client.post(reverse("jobs:cancel", args=[job.pk])).status_code == 403
    assert not Job.objects.get(pk=job.pk).cancel_requested


def test_the_job_and_its_audit_operation_link_both_ways(client, operator):
    both = make_user("bo.both", "Operators", "Auditors")
    client.force_login(both)
    job = start_job(operator, addresses(1))
    assert reverse("audit:operation_detail", args=[job.pk]) in page(client, job)
    audit = client.get(reverse("audit:operation_detail", args=[job.pk])).content.decode()
    assert reverse("jobs:detail", args=[job.pk]) in audit
    assert 'Requested</strong> — 1 to send. <span class="muted">(by olivia.operator)' in audit


def test_a_cancelled_job_is_cancelled_in_the_audit_list_too(client, operator):
    both = make_user("bo.both", "Operators", "Auditors")
    client.force_login(both)
    job = start_job(operator, addresses(1))
    job_cancel(job, actor=both)
    listing = client.get(reverse("audit:operations")).content.decode()
    assert ">Cancelled<" in listing


def test_retry_of_a_cancelled_removal_confirms_again_with_the_reason_prefilled(
    operator_client, operator, fake_woodpecker
):
    emails = addresses(3)
    job = start_job(operator, emails, reason="Asked to hear from us", ticket="T-1")
    job_cancel(job, actor=operator)
    job = Job.objects.select_related("operation").get(pk=job.pk)
    assert 'data-testid="retry"' in page(operator_client, job)

    response = operator_client.post(reverse("woodpecker:retry", args=[job.pk]))
    draft = RemovalDraft.objects.get(source=DraftSource.RETRY)
    assert response.url == reverse("woodpecker:removal_preview", args=[draft.pk])
    assert draft.email_list() == emails
    preview = operator_client.get(response.url)
    assert preview.context["form"].initial == {"reason": "Asked to hear from us", "ticket": "T-1"}

    confirmed = operator_client.post(response.url, {"reason": "Asked again", "ticket": "T-1"})
    retry = Job.objects.exclude(pk=job.pk).get()
    assert confirmed.url == reverse("jobs:detail", args=[retry.pk])
    assert retry.retry_of_id == job.pk
    assert retry.operation.source == "retry"
    assert retry.operation.source_detail["retry_of"] == job.pk
    kinds = dict(job.operation.events.values_list("kind", "detail"))
    assert kinds[EventKind.RETRIED_AS] == f"job #{retry.pk}"
    assert f"job #{job.pk}" in page(operator_client, retry)
    assert f"job #{retry.pk}" in page(operator_client, job)

    fake_woodpecker.on("DELETE", lambda request: (200, {}, request.body))
    assert run(retry).status == OperationStatus.SUCCEEDED


def test_a_job_that_sent_everything_offers_no_retry(operator_client, operator, fake_woodpecker):
    fake_woodpecker.on("DELETE", lambda request: (200, {}, request.body))
    job = run(start_job(operator, addresses(2)))
    assert job.status == OperationStatus.SUCCEEDED
    assert job.retryable == 0
    assert 'data-testid="retry"' not in page(operator_client, job)
    response = operator_client.post(reverse("woodpecker:retry", args=[job.pk]), follow=True)
    assert "nothing left to retry" in response.content.decode()


def test_retry_of_a_walead_unblock_selects_those_leads_and_confirms_again(
    operator_client, operator
):
    leads = [
        LeadSnapshot(id=f"id-{n}", public_identifier=f"person-{n}", reason="Unsubscribed")
        for n in range(2)
    ]
    operation = leads_unblock(
        actor=operator, leads=leads, reason="Re-engaged", ticket="T-9", source="web"
    )
    job = Job.objects.get(pk=operation.pk)
    job_cancel(job, actor=operator)

    response = operator_client.post(reverse("walead:retry", args=[job.pk]))
    assert response.url == f"{reverse('walead:unblock_confirm')}?retry_of={job.pk}"
    confirm = operator_client.get(response.url)
    form = confirm.context["form"]
    assert form.initial["reason"] == "Re-engaged"
    assert form.initial["retry_of"] == job.pk
    assert "2 of these people asked not to be contacted" in confirm.content.decode()

    submitted = operator_client.post(
        reverse("walead:unblock_submit"),
        {
            "lead": ["id-0", "id-1"],
            "reason": "Re-engaged, again",
            "token": form.initial["token"],
            "retry_of": job.pk,
            "acknowledge_opt_out": "on",
        },
    )
    retry = Job.objects.exclude(pk=job.pk).get()
    assert submitted.url == reverse("jobs:detail", args=[retry.pk])
    assert retry.retry_of_id == job.pk


def test_a_job_is_retried_once_even_from_two_tabs(operator_client, operator):
    job = start_job(operator, addresses(3), reason="r")
    job_cancel(job, actor=operator)
    # Two tabs each open the retry preview before either confirms.
    first = operator_client.post(reverse("woodpecker:retry", args=[job.pk])).url
    second = operator_client.post(reverse("woodpecker:retry", args=[job.pk])).url
    assert first != second
    operator_client.post(first, {"reason": "again"})
    refused = operator_client.post(second, {"reason": "again"})
    assert refused.status_code == 400
    assert "already retried as job #" in refused.content.decode()
    assert Job.objects.filter(retry_of=job).count() == 1
    # The job page no longer offers a retry; asking anyway leads to the retry made.
    retry = Job.objects.get(retry_of=job)
    assert 'data-testid="retry"' not in page(operator_client, Job.objects.get(pk=job.pk))
    again = operator_client.post(reverse("woodpecker:retry", args=[job.pk]))
    assert again.url == reverse("jobs:detail", args=[retry.pk])


def test_a_walead_job_is_retried_once(operator_client, operator):
    leads = [LeadSnapshot(id="id-1", public_identifier="person-1", reason="")]
    operation = leads_unblock(actor=operator, leads=leads, reason="r", source="web")
    job = Job.objects.get(pk=operation.pk)
    job_cancel(job, actor=operator)
    retry_operation = leads_unblock(
        actor=operator, leads=leads, reason="r", source="web", retry_of=job
    )
    response = operator_client.post(reverse("walead:retry", args=[job.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("jobs:detail", args=[retry_operation.pk])
    assert "already retried" in response.content.decode()


def test_cancel_messages_say_what_happened(operator_client, operator):
    colleague = make_user("carl.colleague", "Operators")
    queued = start_job(operator, addresses(2))
    at_once = operator_client.post(reverse("jobs:cancel", args=[queued.pk]), follow=True)
    assert "it stopped at once" in at_once.content.decode()
    again = operator_client.post(reverse("jobs:cancel", args=[queued.pk]), follow=True)
    assert "had already ended (Cancelled)" in again.content.decode()

    held = start_job(operator, addresses(2))
    Job.objects.filter(pk=held.pk).update(owner="a-live-worker")  # a worker runs it
    job_cancel(Job.objects.get(pk=held.pk), actor=colleague)
    asked = operator_client.post(reverse("jobs:cancel", args=[held.pk]), follow=True)
    assert "already asked for by carl.colleague" in asked.content.decode()


def test_a_queued_jobs_button_says_cancel_a_running_ones_after_the_request(
    operator_client, operator
):
    job = start_job(operator, addresses(2))
    assert ">Cancel</button>" in page(operator_client, job)
    job.operation.status = OperationStatus.IN_PROGRESS
    job.operation.save()
    assert "Cancel after the request in progress" in page(operator_client, job)


def test_the_preview_says_when_no_worker_will_count(operator_client):
    draft = operator_client.post(
        reverse("woodpecker:removal_new"), {"pasted": "a@example.com\nb@example.com"}
    )
    html = operator_client.get(draft.url).content.decode()
    assert "No worker has run yet: start one with bin/worker" in html


def test_every_address_not_removed_is_listed_a_page_at_a_time(
    operator_client, operator, fake_woodpecker, clock
):
    fake_woodpecker.on(
        "DELETE", lambda request: (400, {}, '{"detail": "Value of emails is incorrect."}')
    )
    job = run(start_job(operator, addresses(250)))
    url = reverse("jobs:detail", args=[job.pk])

    first = operator_client.get(url).content.decode()
    assert first.count("<td>person") == 100
    assert "person0@example.com" in first
    assert "person99@example.com" in first
    assert "person100@example.com" not in first
    next_url = first.split('data-testid="problems-next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = operator_client.get(url + next_url.replace("&amp;", "&")).content.decode()
    assert "person100@example.com" in second
    assert "person199@example.com" in second
    assert "person99@example.com" not in second
    third_url = second.split('data-testid="problems-next"')[0].rsplit('href="', 1)[1].split('"')[0]
    third = operator_client.get(url + third_url).content.decode()
    assert third.count("<td>person") == 50
    assert 'data-testid="problems-next"' not in third
    assert 'data-testid="problems-range">201–250 of 250<' in third  # noqa: RUF001
    assert "Not removed (250)" in third
    back_url = third.split('data-testid="problems-previous"')[0].rsplit('href="', 1)[1]
    back = operator_client.get(url + back_url.split('"')[0].split("#")[0]).content.decode()
    assert 'data-testid="problems-range">101–200 of 250<' in back  # noqa: RUF001
    assert "person100@example.com" in back
    first_again = back.split('data-testid="problems-previous"')[0].rsplit('href="', 1)[1]
    assert first_again.split("#")[0] == url  # the first page
    assert 'data-testid="problems-previous"' not in first
    assert 'data-testid="problems-range">1–100 of 250<' in first  # noqa: RUF001


def test_a_removal_job_page_says_what_was_read(operator_client, operator):
    job = start_job(operator, addresses(3), schedule=False)
    RemovalDraft.objects.filter(pk=job.removal_draft.pk).update(
        rows=5, invalid_count=1, duplicate_count=1
    )
    html = page(operator_client, job)
    facts = "5 rows from header &quot;email&quot;: 3 addresses to remove, 1 unusable, 1 duplicate"
    assert facts in html


def test_every_time_on_a_job_page_is_shown_in_the_viewers_zone(operator_client, operator):
    job = start_job(operator, addresses(2), schedule=False)
    html = page(operator_client, job)
    events = html.split('data-testid="events"')[1].split("</ol>")[0]
    at = job.operation.events.earliest("at").at
    assert f'title="{at:%Y-%m-%d %H:%M:%S} UTC" data-local>' in events  # turned by app.js
    assert "(UTC)" not in operator_client.get(reverse("jobs:mine")).content.decode()


def test_a_one_address_job_says_so_in_the_singular(operator, fake_woodpecker):
    fake_woodpecker.on("DELETE", lambda request: (200, {}, request.body))
    job = run(start_job(operator, addresses(1)))
    assert job.operation.summary.startswith("1 address: 1 removed.")
