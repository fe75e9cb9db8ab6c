"""Real worker processes against the sandbox over loopback: the rules hold across processes.

The sandbox providers (served by this test process) count what they receive; the workers
are separate ``manage.py run_worker`` processes sharing the test database, with quick
heartbeats and short leases (see the ``workers`` fixture) so takeovers take seconds.
"""

import signal
import statistics
import threading
import time

import pytest

from suppression_admin.audit.models import EventKind, ItemOutcome, OperationStatus
from suppression_admin.connections import woodpecker_client
from suppression_admin.jobs import engine
from suppression_admin.jobs.models import Job
from suppression_admin.keys.lock import KeyResting
from suppression_admin.sandbox import ratelimit
from suppression_admin.sandbox.models import SandboxBlacklistedEmail, SandboxBlockedLead
from suppression_admin.walead.services import LeadSnapshot, leads_unblock
from tests.conftest import SANDBOX_TEST_KEY, wait_for
from tests.woodpecker.factories import addresses, start_job

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def finished(*jobs: Job) -> bool:
    return all(Job.objects.select_related("operation").get(pk=job.pk).is_finished for job in jobs)


def fresh(job: Job) -> Job:
    return Job.objects.select_related("operation").get(pk=job.pk)


def blacklisted(emails: list[str]) -> list[str]:
    return [
        email for email in emails if SandboxBlacklistedEmail.objects.filter(email=email).exists()
    ]


def put_on_blacklist(emails: list[str]) -> None:
    SandboxBlacklistedEmail.objects.bulk_create(
        [SandboxBlacklistedEmail(email=email) for email in emails], batch_size=1000
    )


def owner_pid(job: Job) -> int:
    owner = fresh(job).owner
    return int(owner.split(":")[1]) if owner else 0


def limiter():
    gate = ratelimit.limiter_for(SANDBOX_TEST_KEY)
    gate.reset()
    return gate


def test_two_workers_and_the_web_never_have_two_requests_in_flight(workers, settings, operator):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 20
    first, second = addresses(3000, prefix="first"), addresses(3000, prefix="second")
    put_on_blacklist(first + second)
    gate = limiter()

    jobs = [start_job(operator, first), start_job(operator, second)]
    workers("worker-a")
    workers("worker-b")

    # Meanwhile, the web looks addresses up with the same key.
    web_lookups: list[int] = []

    def look_up_from_the_web():
        client = woodpecker_client()
        while not finished(*jobs):
            web_lookups.append(len(client.lookup(first[:50])))

    web = threading.Thread(target=look_up_from_the_web)
    web.start()
    wait_for(lambda: finished(*jobs), what="both jobs to finish")
    web.join(timeout=30)

    for job in jobs:
        job = fresh(job)
        assert job.status == OperationStatus.SUCCEEDED
        assert job.done == 3000
    assert blacklisted(first + second) == []
    assert web_lookups  # the web really did take turns with the workers
    # The highest concurrency the server saw is 1: nothing ever waited in its queue.
    assert gate.max_in_flight == 1
    assert gate.max_queued == 0
    assert gate.rejected == 0
    calls = [call for job in jobs for call in job.operation.calls.all()]
    assert len(calls) + len(web_lookups) == gate.requests_received
    # The two jobs took turns on the key: while both ran, neither sent two chunks running.
    order = [call.operation_id for call in sorted(calls, key=lambda call: call.started_at)]
    both = order.index(jobs[1].pk) if order[0] == jobs[0].pk else order.index(jobs[0].pk)
    overlap = order[both : len(order) - 1]
    runs = [len(list(group)) for _, group in __import__("itertools").groupby(overlap)]
    assert max(runs[:-1] or [1]) <= 2, order


def test_a_killed_worker_is_taken_over_by_a_live_one_without_resending(workers, settings, operator):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 40
    emails = addresses(10_000, prefix="kill")
    put_on_blacklist(emails)
    gate = limiter()
    job = start_job(operator, emails)
    # Both running before anything happens: the takeover is by lease, not by a restart.
    processes = {
        p.pid: p
        for p in (
            workers("one", WOODPECKER_READ_TIMEOUT_SECONDS="2"),
            workers("two", WOODPECKER_READ_TIMEOUT_SECONDS="2"),
        )
    }
    wait_for(lambda: fresh(job).done >= 3000, what="a few chunks done")
    # Kill the job's worker while Woodpecker is processing one of its requests.
    wait_for(lambda: gate.in_flight == 1, what="a request in flight")
    victim = processes[owner_pid(job)]
    victim.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    victim.wait(timeout=10)
    assert not fresh(job).is_finished

    wait_for(lambda: finished(job), what="the job to be taken over and finish")
    taken_over_after = time.monotonic() - killed_at

    job = fresh(job)
    assert job.status == OperationStatus.SUCCEEDED
    # The lost chunk's addresses are off the list, checked by look-up: not "removed" (our
    # request did it, or they were never on it: nobody can tell).
    assert (job.done, job.gone) == (9_500, 500)
    assert blacklisted(emails) == []
    assert taken_over_after < 60
    calls = list(job.operation.calls.all())
    # Every request that reached Woodpecker is one audit call, the lost one included.
    assert len(calls) == gate.requests_received
    assert gate.max_in_flight == 1
    assert gate.max_queued == 0
    lost = [call for call in calls if call.method == "DELETE" and call.status_code is None]
    assert len(lost) == 1
    assert lost[0].error == engine.LOST_CALL
    lookups = [call for call in calls if call.method == "GET"]
    # Only the lost chunk was looked up, after its request could no longer be running.
    assert {call.batch for call in lookups} == {lost[0].batch}
    assert lookups[0].started_at >= lost[0].started_at
    deletes = [call for call in calls if call.method == "DELETE"]
    assert len(deletes) == 20  # Woodpecker applied the lost one: nothing was sent twice
    assert job.operation.items.filter(detail__contains="checked by look-up").count() == 500
    outcomes = {ItemOutcome.REMOVED, ItemOutcome.GONE}
    assert not job.operation.items.exclude(outcome__in=outcomes).exists()
    assert job.operation.events.filter(kind=EventKind.RESUMED).count() == 1


def test_a_look_up_right_after_a_holder_died_mid_request_sends_nothing(
    workers, settings, operator, operator_client
):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 1500
    emails = addresses(1500, prefix="quiet")
    gate = limiter()
    job = start_job(operator, emails)
    worker = workers("holder", WOODPECKER_READ_TIMEOUT_SECONDS="30")
    wait_for(lambda: gate.in_flight == 1, what="a request in flight")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    with pytest.raises(KeyResting, match="may still be running"):
        woodpecker_client().lookup(emails[:3])
    page = operator_client.get("/woodpecker/", {"email_filter": emails[0]})
    assert page.status_code == 200
    assert "may still be running" in page.content.decode()
    time.sleep(1.7)  # the dead worker's request has finished by now
    assert gate.requests_received == 1
    assert gate.max_in_flight == 1
    assert gate.max_queued == 0
    assert not fresh(job).is_finished


def test_a_look_up_during_a_long_job_gets_its_turn_quickly(workers, settings, operator):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 100
    job = start_job(operator, addresses(25_000, prefix="long"))  # 50 chunks, 5 s at least
    gate = limiter()
    workers("busy")
    wait_for(lambda: fresh(job).done + fresh(job).not_listed >= 500, what="the job to run")
    waited: list[float] = []
    client = woodpecker_client()
    while not finished(job) and len(waited) < 25:
        began = time.monotonic()
        client.lookup(["someone@example.com"])
        waited.append(time.monotonic() - began)
    assert len(waited) >= 10, "the job ended before enough look-ups were made"
    p95 = statistics.quantiles(waited, n=20)[-1]
    assert p95 <= 1.5, f"look-up p95 {p95:.2f} s ({sorted(waited)})"
    assert gate.max_in_flight == 1
    assert gate.max_queued == 0


def test_a_worker_that_cannot_reach_woodpecker_leaves_the_job_queued_and_says_why(
    workers, settings, operator, operator_client
):
    job = start_job(operator, addresses(700, prefix="config"))
    workers("unconfigured", SUPPRESSION_SANDBOX="0")
    page = lambda: operator_client.get(f"/jobs/{job.pk}/").content.decode()  # noqa: E731
    wait_for(lambda: "No running worker can reach Woodpecker" in page(), what="the reason")
    assert "WOODPECKER_API_KEY" in page()
    assert fresh(job).status == OperationStatus.PENDING

    workers("configured")
    wait_for(lambda: finished(job), what="the job to finish")
    assert fresh(job).status == OperationStatus.SUCCEEDED


def test_a_newcomer_sees_the_worker_is_gone_starts_one_and_the_job_finishes(
    workers, settings, operator, operator_client
):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 30
    settings.WORKER_SILENT_AFTER_SECONDS = 3
    job = start_job(operator, addresses(8000, prefix="newcomer"))
    worker = workers("first")
    wait_for(lambda: fresh(job).processed >= 1000, what="the job to run")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    page = lambda: operator_client.get(f"/jobs/{job.pk}/").content.decode()  # noqa: E731
    wait_for(lambda: "No worker has been seen for" in page(), what="the job page to say so")
    assert "bin/worker" in page()
    assert "time left: —" in page()
    mine = operator_client.get("/jobs/").content.decode()
    assert "No worker has been seen for" in mine

    workers("second", WOODPECKER_READ_TIMEOUT_SECONDS="2")
    wait_for(lambda: finished(job), what="the job to finish")
    job = fresh(job)
    assert job.status == OperationStatus.SUCCEEDED
    assert job.processed == 8000


def test_a_walead_unblock_survives_a_killed_worker(workers, settings, operator):
    settings.SANDBOX_WALEAD_LATENCY_MS = 300
    leads = [
        LeadSnapshot(id=lead.id, public_identifier=lead.public_identifier, reason=lead.reason or "")
        for lead in SandboxBlockedLead.objects.order_by("id")
    ]
    assert len(leads) == 60
    operation = leads_unblock(actor=operator, leads=leads, reason="Re-engaged", source="web")
    job = Job.objects.get(pk=operation.pk)
    env = {"WALEAD_UNBLOCK_CHUNK_SIZE": "10", "WALEAD_READ_TIMEOUT_SECONDS": "2"}
    processes = {p.pid: p for p in (workers("one", **env), workers("two", **env))}

    def a_delete_out_after_two_chunks() -> bool:
        calls = job.operation.calls.filter(method="DELETE")
        return fresh(job).done >= 20 and calls.filter(finished_at__isnull=True).exists()

    wait_for(a_delete_out_after_two_chunks, what="a chunk's request out")
    time.sleep(0.1)  # at the sandbox now, which answers after 300 ms
    processes[owner_pid(job)].send_signal(signal.SIGKILL)
    wait_for(lambda: finished(job), what="the unblock to be taken over and finish")

    job = fresh(job)
    assert job.status == OperationStatus.SUCCEEDED
    assert (job.done, job.gone) == (50, 10)
    assert not SandboxBlockedLead.objects.exists()
    lost = job.operation.calls.get(method="DELETE", status_code__isnull=True)
    assert lost.error == engine.LOST_CALL
    assert job.operation.items.filter(detail__contains="checked by look-up").count() == 10
    assert job.operation.events.filter(kind=EventKind.RESUMED).count() == 1
