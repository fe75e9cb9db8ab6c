"""/healthz: the database answers and a worker's heartbeat is fresh; for load balancers."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from suppression_admin.jobs.models import Worker

pytestmark = pytest.mark.django_db


def health():
    response = Client().get("/healthz")
    return response.status_code, response.json(), response


def worker(seen_seconds_ago: float, *, stopped: bool = False) -> None:
    seen = timezone.now() - timedelta(seconds=seen_seconds_ago)
    Worker.objects.create(
        id=f"w-{seen_seconds_ago}",
        hostname="h",
        pid=1,
        started_at=seen,
        seen_at=seen,
        stopped_at=seen if stopped else None,
    )


def test_healthy_with_a_fresh_worker_without_signing_in():
    worker(2)
    status, body, response = health()
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["worker"] == "ok"
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_failing_without_a_worker_or_with_a_silent_one(settings):
    status, body, _ = health()
    assert (status, body["status"], body["worker"]) == (503, "failing", "no worker running")
    worker(settings.WORKER_SILENT_AFTER_SECONDS + 30)
    worker(1, stopped=True)  # a worker that stopped says nothing about the living
    status, body, _ = health()
    assert status == 503
    assert body["worker"].startswith("last heartbeat")
    assert body["database"] == "ok"


def test_failing_when_the_database_does_not_answer(monkeypatch):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("down")

    monkeypatch.setattr("suppression_admin.views.connection.cursor", broken)
    status, body, _ = health()
    assert (status, body["database"]) == (503, "unreachable")
