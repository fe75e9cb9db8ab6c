"""Real worker processes against the sandbox over loopback: the rules hold across processes.

The sandbox Woodpecker (served by this test process) counts what it receives; the workers
are separate ``manage.py run_worker`` processes sharing the test database.
"""

import signal
import threading

import pytest

from suppression_admin.audit.models import ItemOutcome, ProviderCall
from suppression_admin.connections import woodpecker_client
from suppression_admin.sandbox import ratelimit
from suppression_admin.sandbox.models import SandboxBlacklistedEmail
from suppression_admin.woodpecker.models import JobStatus, RemovalJob
from tests.conftest import SANDBOX_TEST_KEY, wait_for
from tests.woodpecker.factories import addresses, start_job

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def finished(*jobs: RemovalJob) -> bool:
    return all(RemovalJob.objects.get(pk=job.pk).is_finished for job in jobs)


def blacklisted(emails: list[str]) -> list[str]:
    return [
        email for email in emails if SandboxBlacklistedEmail.objects.filter(email=email).exists()
    ]


def put_on_blacklist(emails: list[str]) -> None:
    SandboxBlacklistedEmail.objects.bulk_create(
        [SandboxBlacklistedEmail(email=email) for email in emails], batch_size=1000
    )


def test_two_workers_and_the_web_never_have_two_requests_in_flight(workers, settings, operator):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 20
    first, second = addresses(3000, prefix="first"), addresses(3000, prefix="second")
    put_on_blacklist(first + second)
    limiter = ratelimit.limiter_for(SANDBOX_TEST_KEY)
    limiter.reset()

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
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED
        assert job.removed == 3000
    assert blacklisted(first + second) == []
    assert web_lookups  # the web really did take turns with the workers
    # The highest concurrency the server saw is 1: nothing ever waited in its queue.
    assert limiter.max_in_flight == 1
    assert limiter.max_queued == 0
    assert limiter.rejected == 0
    job_calls = ProviderCall.objects.filter(operation__removal_job__in=jobs).count()
    assert job_calls + len(web_lookups) == limiter.requests_received


def test_a_worker_killed_mid_job_is_resumed_without_resending_confirmed_chunks(
    workers, settings, operator
):
    settings.SANDBOX_WOODPECKER_LATENCY_MS = 40
    emails = addresses(10_000, prefix="kill")
    put_on_blacklist(emails)
    limiter = ratelimit.limiter_for(SANDBOX_TEST_KEY)
    limiter.reset()
    job = start_job(operator, emails)

    victim = workers("victim")
    wait_for(lambda: RemovalJob.objects.get(pk=job.pk).removed >= 3000, what="a few chunks done")

    def recorded_up_to_the_request_in_flight() -> bool:
        # The previous answer is written while the next request is out: wait for that, so
        # exactly one answer (the one in flight) is lost.
        removed = RemovalJob.objects.get(pk=job.pk).removed
        return limiter.in_flight == 1 and removed == 500 * (limiter.requests_received - 1)

    # Kill it while Woodpecker is processing one of its requests: that answer is lost.
    wait_for(recorded_up_to_the_request_in_flight, what="a request in flight")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    job.refresh_from_db()
    assert not job.is_finished

    workers("rescuer")  # recovers unfinished jobs when it starts
    wait_for(lambda: finished(job), what="the resumed job to finish")

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.removed == 10_000
    assert blacklisted(emails) == []
    calls = list(job.operation.calls.all())
    # Every request that reached Woodpecker is one audit call, the lost one included.
    assert len(calls) == limiter.requests_received
    assert limiter.max_queued == 0
    lost = [call for call in calls if call.method == "DELETE" and call.status_code is None]
    assert len(lost) == 1
    assert "looked up afterwards" in lost[0].error
    lookups = [call for call in calls if call.method == "GET"]
    # Only the lost chunk was settled by looking its addresses up; the chunk claimed while
    # it was out, but never sent, was simply sent.
    assert {call.batch for call in lookups} == {lost[0].batch}
    deletes = [call for call in calls if call.method == "DELETE"]
    # One DELETE per chunk: Woodpecker did apply the lost one (the look-up showed it), so
    # nothing was sent twice.
    assert len(deletes) == 20
    settled = job.operation.items.filter(detail__contains="checked by look-up")
    assert settled.count() == 500
    assert not job.operation.items.exclude(outcome=ItemOutcome.REMOVED).exists()
