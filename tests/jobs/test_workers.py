"""Heartbeats, leases and the rescue of jobs whose worker fell silent; what pages say."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from suppression_admin import settings as project_settings
from suppression_admin.audit.models import EventKind
from suppression_admin.jobs.engine import lease_take
from suppression_admin.jobs.models import Job, Worker
from suppression_admin.jobs.workers import (
    Heartbeat,
    job_situation,
    jobs_rescue,
    providers_reachable,
    worker_beat,
)
from tests.woodpecker.factories import addresses, start_job

pytestmark = pytest.mark.usefixtures("live_providers")


def worker(name: str, *, seen_ago: float = 0, can_run=("walead", "woodpecker"), **fields):
    return Worker.objects.create(
        id=name,
        hostname="host",
        pid=1,
        seen_at=timezone.now() - timedelta(seconds=seen_ago),
        can_run=list(can_run),
        **fields,
    )


def fresh(job: Job) -> Job:
    return Job.objects.select_related("operation").get(pk=job.pk)


def test_a_beat_says_the_worker_is_alive_and_renews_its_jobs_leases(operator, settings):
    settings.JOB_LEASE_SECONDS = 30
    worker("w1", seen_ago=15)
    job = start_job(operator, addresses(1))
    assert lease_take(job, "w1")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=2))

    worker_beat("w1")

    assert Worker.objects.get(pk="w1").seen_at > timezone.now() - timedelta(seconds=2)
    assert fresh(job).lease_expires_at > timezone.now() + timedelta(seconds=25)


def test_a_silent_workers_job_is_queued_again_once_and_says_so(
    operator, django_capture_on_commit_callbacks
):
    job = start_job(operator, addresses(1), schedule=False)
    Job.objects.filter(pk=job.pk).update(
        owner="dead", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    before = DBTaskResult.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_rescue(["woodpecker"]) == [job.pk]
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_rescue(["woodpecker"]) == []  # its new task waits: nothing more

    assert DBTaskResult.objects.count() == before + 1
    job = fresh(job)
    assert job.owner == ""  # free for whichever worker picks the task
    assert job.task_id == str(DBTaskResult.objects.order_by("-enqueued_at").first().id)
    event = job.operation.events.get(kind=EventKind.RESUMED)
    assert "Worker dead stopped; the job was handed to a live worker" in event.detail


def test_the_rescue_leaves_held_and_other_providers_jobs_alone(operator):
    held = start_job(operator, addresses(1), schedule=False)
    Job.objects.filter(pk=held.pk).update(
        owner="alive", lease_expires_at=timezone.now() + timedelta(seconds=20)
    )
    elsewhere = start_job(operator, addresses(1), schedule=False)
    Job.objects.filter(pk=elsewhere.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    assert jobs_rescue(["woodpecker"]) == [elsewhere.pk]
    assert jobs_rescue(["walead"]) == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_heartbeat_registers_the_worker_and_says_when_it_stopped(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.05
    with Heartbeat("hb-1", rescue=False) as heartbeat:
        assert heartbeat.can_run == ["walead", "woodpecker"]
        row = Worker.objects.get(pk="hb-1")
        assert row.stopped_at is None
    assert Worker.objects.get(pk="hb-1").stopped_at is not None


BEATS: list[str] = []


def record_beat() -> None:
    BEATS.append("rescued")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_rescuing_heartbeat_calls_the_other_rescues_each_beat(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.05
    settings.WORKER_BEAT_RESCUES = [f"{__name__}.record_beat"]
    BEATS.clear()
    with Heartbeat("hb-2", rescue=True):
        deadline = time.monotonic() + 5
        while len(BEATS) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(BEATS) >= 2
    counted = len(BEATS)
    with Heartbeat("hb-3", rescue=False):
        time.sleep(0.2)
    assert len(BEATS) == counted  # a command running its own job rescues nothing
    assert "suppression_admin.woodpecker.reading.readings_rescue" in (
        project_settings.WORKER_BEAT_RESCUES
    )


def test_providers_a_worker_cannot_reach_are_named_with_the_reason(settings):
    settings.WOODPECKER_API_KEY = ""
    can, cannot = providers_reachable()
    assert can == ["walead"]
    assert "WOODPECKER_API_KEY" in cannot["woodpecker"]


def test_a_job_page_says_no_worker_has_run_yet(operator):
    job = start_job(operator, addresses(1))
    situation = job_situation(fresh(job))
    assert situation.problem
    assert "No worker has run yet" in situation.message
    assert "bin/worker" in situation.message


def test_a_job_page_says_how_long_no_worker_was_seen(operator):
    worker("gone", seen_ago=95)
    situation = job_situation(fresh(start_job(operator, addresses(1))))
    assert "No worker has been seen for 95 s" in situation.message


def test_a_job_page_names_why_no_live_worker_can_run_it(operator):
    worker("no-key", can_run=["walead"], cannot_run={"woodpecker": "Woodpecker is not configured"})
    situation = job_situation(fresh(start_job(operator, addresses(1))))
    assert situation.message.startswith("No running worker can reach Woodpecker")
    assert "Woodpecker is not configured" in situation.message


def test_a_job_whose_worker_died_is_said_to_be_taken_over_soon(operator):
    worker("alive", job=None)
    worker("dead", seen_ago=300)
    job = start_job(operator, addresses(1))
    Job.objects.filter(pk=job.pk).update(owner="dead")
    situation = job_situation(fresh(job))
    assert not situation.problem
    assert "takes the job over within about a minute" in situation.message


def test_a_running_job_with_a_live_worker_needs_no_word(operator):
    worker("alive")
    job = start_job(operator, addresses(1))
    Job.objects.filter(pk=job.pk).update(owner="alive")
    assert job_situation(fresh(job)) is None


def test_a_queued_job_behind_busy_workers_says_it_waits(operator):
    busy_job = start_job(operator, addresses(1))
    worker("busy", job=busy_job)
    situation = job_situation(fresh(start_job(operator, addresses(1))))
    assert "every worker is busy" in situation.message


def test_workers_unheard_of_for_a_week_are_forgotten_but_the_latest(db):
    worker("last-week", seen_ago=8 * 86400)
    worker("last-month", seen_ago=30 * 86400)
    worker("today", seen_ago=10)
    from suppression_admin.jobs.workers import workers_forget_old

    assert workers_forget_old() == 2
    assert list(Worker.objects.values_list("pk", flat=True)) == ["today"]
    Worker.objects.all().delete()
    worker("long-gone", seen_ago=30 * 86400)
    assert workers_forget_old() == 0  # the only one left: its last sighting is still news


def test_time_left_follows_the_pace_of_the_last_chunks_and_says_nothing_when_stalled(
    operator,
):
    from suppression_admin.jobs.models import Chunk, ChunkStatus
    from suppression_admin.jobs.selectors import job_seconds_left

    job = start_job(operator, addresses(5000))  # 10 chunks
    assert lease_take(job, "w")
    from suppression_admin.jobs.engine import _prepare

    _prepare(job, "w")
    now = timezone.now()
    for index in range(4):  # one chunk every 2 s, the last just now
        Chunk.objects.filter(job=job, index=index).update(
            status=ChunkStatus.DONE, done_at=now - timedelta(seconds=2 * (3 - index))
        )
    assert job_seconds_left(fresh(job)) == 12  # 6 chunks left at 2 s each
    Chunk.objects.filter(job=job, status=ChunkStatus.DONE).update(
        done_at=timezone.now() - timedelta(minutes=5)
    )
    assert job_seconds_left(fresh(job)) is None  # nothing for a while: no guess


def test_a_preview_look_up_goes_before_a_jobs_next_slice(operator, live_providers):
    from suppression_admin.jobs.tasks import job_enqueue
    from suppression_admin.woodpecker.tasks import lookup_draft

    job = start_job(operator, addresses(1), schedule=False)
    job_enqueue(job, run_after=timezone.now())  # a slice due now
    lookup_draft.enqueue("00000000-0000-0000-0000-000000000000")
    ready = DBTaskResult.objects.ready().order_by(*DBTaskResult._meta.ordering)
    assert ready.first().task_path.endswith("lookup_draft")
