"""The removal pipeline over a real connection: the writing happens while a request is out.

The fake Woodpecker here runs in a thread of this process and looks at the database (so
the tests are transactional): it sees what the job had written when a request arrived,
and what the job writes while the request is out.
"""

import time

import pytest
from django.db import connections

from suppression_admin.audit.models import ProviderCall
from suppression_admin.woodpecker.jobs import removal_job_run
from suppression_admin.woodpecker.models import ChunkStatus, JobStatus, RemovalChunk, RemovalJob
from suppression_admin.woodpecker.pipeline import Pipeline
from suppression_admin.woodpecker.services import removal_job_cancel
from tests.http_server import serving
from tests.woodpecker.factories import addresses, start_job

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("live_providers"),
]


def eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def chunk_status(job: RemovalJob, index: int) -> str:
    return RemovalChunk.objects.get(job=job, index=index).status


def woodpecker_that(on_delete):
    """A fake Woodpecker that removes whatever it is asked to, after ``on_delete(n, emails)``."""
    deletes: list[list[str]] = []

    def answer(method, path, body):
        try:
            if method != "DELETE":
                return 405, {}
            deletes.append(body["emails"])
            on_delete(len(deletes) - 1, body["emails"])
            return 200, {"emails": body["emails"]}
        finally:
            connections.close_all()  # this thread's own connection

    return answer, deletes


def test_each_answer_is_recorded_while_the_next_request_is_out(operator, settings):
    job = start_job(operator, addresses(1500), schedule=False)
    on_arrival: list[tuple[int, int | None]] = []
    previous_recorded_meanwhile: list[bool] = []

    def on_delete(n, emails):
        last_call = ProviderCall.objects.filter(operation=job.operation).last()
        on_arrival.append(
            (ProviderCall.objects.filter(operation=job.operation).count(), last_call.batch)
        )
        if n:
            # Not answered yet: the previous chunk can only be finished by work done now.
            previous_recorded_meanwhile.append(
                eventually(lambda: chunk_status(job, n - 1) == ChunkStatus.DONE)
            )

    answer, deletes = woodpecker_that(on_delete)
    with serving(answer) as base_url:
        settings.WOODPECKER_BASE_URL = f"{base_url}/rest"
        job = removal_job_run(job.pk)

    assert job.status == JobStatus.SUCCEEDED
    assert job.removed == 1500
    assert [len(emails) for emails in deletes] == [500, 500, 500]
    # Each request's call row was there before it arrived.
    assert on_arrival == [(1, 0), (2, 1), (3, 2)]
    assert previous_recorded_meanwhile == [True, True]
    assert job.operation.calls.count() == 3


def test_a_cancel_after_the_next_chunk_was_claimed_stops_after_the_chunk_in_flight(
    operator, settings
):
    job = start_job(operator, addresses(1500), schedule=False)

    def on_delete(n, emails):
        # The job claims the next chunk while this request is out; cancel after that.
        assert eventually(lambda: chunk_status(job, 1) == ChunkStatus.IN_FLIGHT)
        removal_job_cancel(RemovalJob.objects.get(pk=job.pk))

    answer, deletes = woodpecker_that(on_delete)
    with serving(answer) as base_url:
        settings.WOODPECKER_BASE_URL = f"{base_url}/rest"
        job = removal_job_run(job.pk)

    assert len(deletes) == 1
    assert job.status == JobStatus.CANCELLED
    assert (job.removed, job.not_sent) == (500, 1000)
    assert list(job.chunks.values_list("status", flat=True)) == [
        ChunkStatus.DONE,
        ChunkStatus.NOT_SENT,
        ChunkStatus.NOT_SENT,
    ]
    assert job.operation.calls.count() == 1


def test_a_rate_limited_chunk_gives_back_the_next_one_it_had_claimed(
    operator, settings, monkeypatch
):
    monkeypatch.setattr("suppression_admin.woodpecker.jobs.sleep", lambda seconds: None)
    job = start_job(operator, addresses(1500), schedule=False)
    rate_limited: list[bool] = []
    next_claimed_meanwhile: list[bool] = []

    def answer(method, path, body):
        try:
            if method == "DELETE" and not rate_limited:
                rate_limited.append(True)
                # Only answered once the next chunk is claimed: the hook ran meanwhile.
                next_claimed_meanwhile.append(
                    eventually(lambda: chunk_status(job, 1) == ChunkStatus.IN_FLIGHT)
                )
                return 429, {"title": "Too many requests", "status": 429}
            return 200, {"emails": body["emails"]}
        finally:
            connections.close_all()

    with serving(answer) as base_url:
        settings.WOODPECKER_BASE_URL = f"{base_url}/rest"
        job = removal_job_run(job.pk)

    assert next_claimed_meanwhile == [True]
    assert job.status == JobStatus.SUCCEEDED
    assert job.removed == 1500
    calls = list(job.operation.calls.values_list("batch", "status_code"))
    # The refused chunk again, then the others: the claimed one went out once, fresh.
    assert calls == [(0, 429), (0, 200), (1, 200), (2, 200)]
    assert RemovalChunk.objects.get(job=job, index=1).attempts == 1


def test_a_failed_write_while_a_request_is_out_keeps_the_answer_it_got(
    operator, settings, monkeypatch
):
    job = start_job(operator, addresses(1000), schedule=False)

    def the_database_went_away(*args):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Pipeline, "_meanwhile", the_database_went_away)
    answer, deletes = woodpecker_that(lambda n, emails: None)
    with serving(answer) as base_url:
        settings.WOODPECKER_BASE_URL = f"{base_url}/rest"
        with pytest.raises(RuntimeError, match="went away"):
            removal_job_run(job.pk)

    assert len(deletes) == 1
    first = RemovalChunk.objects.get(job=job, index=0)
    assert first.status == ChunkStatus.DONE  # its answer was recorded despite the failure
    assert job.operation.calls.get().status_code == 200
    assert RemovalChunk.objects.get(job=job, index=1).status == ChunkStatus.PENDING
