"""Workers you can see: heartbeats, leases renewed, silent workers' jobs handed on.

Every worker process (``manage.py run_worker``, and a command running a job itself) keeps a
``Worker`` row fresh every few seconds, and with it the leases of the jobs it runs. A job
whose lease ran out belongs to a worker that died (or was stopped): the heartbeat of any
live worker that can run it queues it again (``jobs_rescue``), so it goes on within about
a minute without anyone restarting anything.
"""

import io
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone
from django.utils.module_loading import import_string

from suppression_admin.audit.models import EventKind, Provider
from suppression_admin.audit.services import operation_event
from suppression_admin.connections import walead_endpoint, woodpecker_endpoint
from suppression_admin.jobs.engine import job_run
from suppression_admin.jobs.models import Job, Worker
from suppression_admin.jobs.senders import CannotRun
from suppression_admin.jobs.tasks import job_enqueue, run_job
from suppression_admin.jobs.worker_id import worker_id
from suppression_admin.providers.errors import ProviderNotConfigured

logger = logging.getLogger(__name__)

ENDPOINTS = {Provider.WALEAD: walead_endpoint, Provider.WOODPECKER: woodpecker_endpoint}
START_ONE = "start one with bin/worker"


def providers_reachable() -> tuple[list[str], dict[str, str]]:
    """Which providers this process can run jobs for, and why not the others."""
    can, cannot = [], {}
    for provider, endpoint in ENDPOINTS.items():
        try:
            endpoint()
        except ProviderNotConfigured as error:
            cannot[str(provider)] = str(error)
        else:
            can.append(str(provider))
    return can, cannot


class Heartbeat:
    """While this block runs, the process is a live worker: ``with Heartbeat(worker_id):``.

    A thread writes the heartbeat, renews the leases of the jobs this worker holds and,
    with ``rescue``, queues again the jobs whose runner fell silent (and the other work
    named in WORKER_BEAT_RESCUES). With ``chores`` (a
    worker process), another thread runs WORKER_DAILY_COMMANDS at start and daily.
    """

    def __init__(self, worker_id: str, *, rescue: bool = True, chores: bool = False) -> None:
        self.worker_id = worker_id
        self.rescue = rescue
        self.chores = chores
        self.can_run, self.cannot_run = providers_reachable()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._chores = threading.Thread(target=self._daily, name="daily-chores", daemon=True)

    def __enter__(self) -> "Heartbeat":
        now = timezone.now()
        workers_forget_old()
        Worker.objects.update_or_create(
            id=self.worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "started_at": now,
                "seen_at": now,
                "stopped_at": None,
                "can_run": self.can_run,
                "cannot_run": self.cannot_run,
            },
        )
        self._thread.start()
        if self.chores:
            self._chores.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.chores:
            self._chores.join(timeout=10)
        Worker.objects.filter(pk=self.worker_id).update(stopped_at=timezone.now(), job=None)

    def _beat(self) -> None:
        try:
            while True:
                try:
                    worker_beat(self.worker_id)
                    if self.rescue:
                        jobs_rescue(self.can_run)
                        for rescue in settings.WORKER_BEAT_RESCUES:
                            import_string(rescue)()
                except Exception:  # a database hiccup must not stop the heartbeat for good
                    logger.exception("Heartbeat of worker %s failed", self.worker_id)
                    close_old_connections()
                if self._stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
                    return
        finally:
            connection.close()  # this thread's own connection

    def _daily(self) -> None:
        """WORKER_DAILY_COMMANDS, at start and then every day (on a thread of their own: a
        long purge must not hold up the heartbeat). Each is safe to run twice."""
        try:
            while True:
                for command in settings.WORKER_DAILY_COMMANDS:
                    try:
                        call_command(command, stdout=io.StringIO())
                    except Exception:
                        logger.exception("Daily command %s failed", command)
                        close_old_connections()
                if self._stop.wait(DAY_SECONDS):
                    return
        finally:
            connection.close()  # this thread's own connection


DAY_SECONDS = 24 * 60 * 60


def workers_forget_old(*, days: int = 7) -> int:
    """Forget workers unheard of for ``days``, but the latest (pages say when it was seen)."""
    latest = Worker.objects.order_by("-seen_at").values_list("pk", flat=True).first()
    gone = Worker.objects.filter(seen_at__lt=timezone.now() - timedelta(days=days))
    return gone.exclude(pk=latest).delete()[0]


def worker_beat(worker_id: str) -> None:
    """The worker is alive: say so, and renew the leases of the jobs it runs."""
    now = timezone.now()
    Worker.objects.filter(pk=worker_id).update(seen_at=now)
    Job.objects.filter(owner=worker_id, operation__finished_at__isnull=True).update(
        lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_SECONDS)
    )


def jobs_rescue(providers: list[str]) -> list[int]:
    """Queue again each unfinished job of these providers that nobody runs or will run:
    its lease ran out (its runner died, or let it go) and no task of it is waiting."""
    now = timezone.now()
    stale = Job.objects.filter(provider__in=providers, operation__finished_at__isnull=True).filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )
    rescued = []
    for job in stale.select_related("operation"):
        if _task_waiting(job.task_id):
            continue
        # Whoever moves the lease first rescues it: one new task, not one per worker. The
        # dead runner's name goes: the job is free for the next one.
        with transaction.atomic():
            won = Job.objects.filter(
                pk=job.pk, lease_expires_at=job.lease_expires_at, task_id=job.task_id
            ).update(owner="", lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_SECONDS))
            if not won:
                continue
            if job.owner:
                operation_event(
                    job.operation,
                    EventKind.RESUMED,
                    detail=f"Worker {job.owner} stopped; the job was handed to a live worker, "
                    "which first looks up what its last request did.",
                )
            transaction.on_commit(lambda job=job: job_enqueue(job))
            rescued.append(job.pk)
    return rescued


def _task_waiting(task_id: str) -> bool:
    if not task_id:
        return False
    try:
        return run_job.get_result(task_id).status == TaskResultStatus.READY
    except TaskResultDoesNotExist:
        return False


# -- what the pages say ------------------------------------------------------------------------


@dataclass(frozen=True)
class Situation:
    """Who is (or is not) working on a job, in words for its page."""

    message: str
    problem: bool  # nobody will run it as things stand


def live_workers():
    silent_after = timedelta(seconds=settings.WORKER_SILENT_AFTER_SECONDS)
    return Worker.objects.filter(
        stopped_at__isnull=True, seen_at__gte=timezone.now() - silent_after
    )


def workers_situation(provider: str | None = None) -> Situation | None:
    """Why background work (for ``provider``, if it needs one) cannot run now, if it
    cannot: no live worker, or none that can reach the provider."""
    alive = list(live_workers())
    if not alive:
        last = Worker.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
        if last is None:
            return Situation(f"No worker has run yet: {START_ONE}.", problem=True)
        silent = int((timezone.now() - last).total_seconds())
        return Situation(
            f"No worker has been seen for {silent:,} s: {START_ONE}. The work goes on where "
            "it stopped.",
            problem=True,
        )
    if provider is None:
        return None
    if not any(provider in worker.can_run for worker in alive):
        why = next((w.cannot_run.get(provider) for w in alive if w.cannot_run), "")
        label = Provider(provider).label
        return Situation(
            f"No running worker can reach {label}" + (f": {why}" if why else ".") + " Start a "
            "worker with that configuration (bin/worker).",
            problem=True,
        )
    return None


def job_situation(job: Job) -> Situation | None:
    """Why an unfinished job is not moving, if it is not; None when a live worker runs it."""
    if job.is_finished:
        return None
    alive = list(live_workers())
    if job.owner and any(worker.pk == job.owner for worker in alive):
        return None
    if situation := workers_situation(job.provider):
        return situation
    if job.waiting_note:
        return Situation(job.waiting_note, problem=True)
    if job.owner:
        return Situation(
            "Its worker stopped; a live worker takes the job over within about a minute.",
            problem=False,
        )
    able = [worker for worker in alive if job.provider in worker.can_run]
    if not job.resting and all(worker.job_id is not None for worker in able):
        busy = "Waiting for a worker: every worker is busy with another job."
        return Situation(busy, problem=False)
    return None


def job_run_in_this_process(job_id: int, *, poll_seconds: float = 0.5) -> Job:
    """Run a job here, as a worker with its own heartbeat, until it ends (a command that
    runs its job itself). If a worker holds the job meanwhile, wait for it to end.

    Raises CannotRun when this process cannot reach the job's provider account.
    """
    me = worker_id()
    with Heartbeat(me, rescue=False):
        while True:
            run = job_run(job_id, worker_id=me)
            job = run.job
            if job.is_finished:
                return job
            if job.waiting_note and not job.owner:
                raise CannotRun(job.waiting_note)
            time.sleep(poll_seconds)
