"""Fixtures shared by the whole suite: users in each role, provider settings, workers."""

import importlib
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.utils import timezone

from suppression_admin.accounts.roles import ensure_roles

TEST_WALEAD_URL = "https://walead.test/api"
TEST_WALEAD_KEY = "walead-test-key-0123456789"
TEST_WOODPECKER_URL = "https://woodpecker.test/rest"
TEST_WOODPECKER_KEY = "woodpecker-test-key-0123456789"


def make_user(username: str, *groups: str) -> User:
    # A transactional test elsewhere may have flushed what the migrations created.
    create_permissions(apps.get_app_config("audit"), verbosity=0)
    ensure_roles(Group, Permission)
    user = User.objects.create_user(username=username, password="pw-for-tests-only")
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture(autouse=True)
def fresh_keys(settings, tmp_path):
    """Each test starts with keys that remember nothing: its own lock folder (SQLite), and
    no key state or lock connection left by another test (PostgreSQL)."""
    from suppression_admin.keys.lock import keys_forget

    settings.KEY_LOCK_DIR = tmp_path / "locks"
    keys_forget()
    yield
    keys_forget()
    if connection.vendor == "postgresql":
        # Written on the lock's own connection, so no test transaction rolls it back.
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        with psycopg.connect(**params, autocommit=True) as own:
            own.execute("DELETE FROM keys_keystate")


_GUARDS = [
    importlib.import_module(f"suppression_admin.audit.migrations.{name}")
    for name in (
        "0005_append_only",
        "0006_audit_seals",
        "0007_search_keys_and_counts",
        "0008_access_records",
    )
]


class _append_only:  # noqa: N801 - the audit migrations' guards, as one
    @staticmethod
    def install(editor) -> None:
        for module in _GUARDS:
            module.install(editor)

    @staticmethod
    def uninstall(editor) -> None:
        for module in reversed(_GUARDS):
            module.uninstall(editor)


@contextmanager
def audit_unguarded():
    """Lift the audit tables' append-only triggers for a moment: for a test that must make a
    state no application path can (the marks a killed process leaves), and for emptying the
    database between transactional tests. Never used by the application."""
    _append_only.uninstall(_Statements())
    try:
        yield
    finally:
        _append_only.uninstall(_Statements())
        _append_only.install(_Statements())


class _Statements:
    """What the migration's install/uninstall need of a schema editor, on a plain cursor
    (SQLite's schema editor cannot work inside a test's transaction)."""

    connection = connection

    def execute(self, sql: str, params=None) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


@pytest.fixture(autouse=True)
def empty_cache():
    """Nothing a test cached (the leads matching a WaLead search, say) reaches the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def audit_append_only(request):
    """Every database test runs with the audit append-only, as production does. A
    transactional test's database is emptied after it (Django's flush), which the triggers
    would refuse: they are lifted for that, and put back by the next test."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db:
        yield
        return
    transactional = bool(marker and marker.kwargs.get("transaction")) or (
        "transactional_db" in request.fixturenames
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    _append_only.uninstall(_Statements())
    _append_only.install(_Statements())
    yield
    if transactional:
        _append_only.uninstall(_Statements())


class Clock:
    """The time jobs and keys rest by, moved by their ``sleep`` instead of waited for."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.slept: list[float] = []

    def time(self):
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("suppression_admin.jobs.engine.now", clock.time)
    monkeypatch.setattr("suppression_admin.jobs.engine.sleep", clock.sleep)
    monkeypatch.setattr("suppression_admin.keys.lock._now", clock.time)
    return clock


@pytest.fixture
def operator(db) -> User:
    return make_user("olivia.operator", "Operators")


@pytest.fixture
def auditor(db) -> User:
    return make_user("aaron.auditor", "Auditors")


@pytest.fixture
def outsider(db) -> User:
    return make_user("nina.norole")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


@pytest.fixture
def live_providers(settings):
    """Both providers configured as if live, at fake hosts that `responses` intercepts."""
    settings.SUPPRESSION_SANDBOX = False
    settings.WALEAD_BASE_URL = TEST_WALEAD_URL
    settings.WALEAD_API_KEY = TEST_WALEAD_KEY
    settings.WOODPECKER_BASE_URL = TEST_WOODPECKER_URL
    settings.WOODPECKER_API_KEY = TEST_WOODPECKER_KEY
    return settings


@pytest.fixture
def fake_woodpecker(live_providers):
    """Woodpecker played by a loopback server the test scripts (see tests.fake_provider)."""
    from tests.fake_provider import serving_fake

    with serving_fake() as fake:
        live_providers.WOODPECKER_BASE_URL = f"{fake.url}/rest"
        yield fake


SANDBOX_TEST_KEY = "sandbox-test-key"


@pytest.fixture
def sandbox(live_server, settings):
    """The app in sandbox mode, its providers served over loopback by the live server.

    Tests using it need ``@pytest.mark.django_db(transaction=True, serialized_rollback=True)``:
    the live server sees only committed data, and the rollback restores the role groups.
    """
    from suppression_admin.sandbox import ratelimit
    from suppression_admin.sandbox.seed import seed_sandbox_data

    settings.SUPPRESSION_SANDBOX = True
    settings.SANDBOX_BASE_URL = live_server.url
    settings.SANDBOX_API_KEY = SANDBOX_TEST_KEY
    settings.WALEAD_BASE_URL = ""
    settings.WOODPECKER_BASE_URL = ""
    ratelimit.reset_limiters()
    seed_sandbox_data(leads=60, emails=200)
    return live_server


PROJECT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(settings, **extra: str) -> dict[str, str]:
    """The environment of a process of ours started by a test: the test database, the
    test's key lock folder, no real provider keys."""
    return (
        {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("WALEAD_", "WOODPECKER_", "DJANGO_"))
        }
        | {
            "DJANGO_SETTINGS_MODULE": "suppression_admin.settings",
            "DATABASE_URL": database_url(),
            "KEY_LOCK_DIR": str(settings.KEY_LOCK_DIR),
            "SECRET_KEY": "process-test-secret",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
        | extra
    )


@pytest.fixture
def workers(sandbox, settings, tmp_path):
    """Starts worker processes on demand (``workers(name, **env)``); kills what is left."""
    env = process_env(
        settings,
        SUPPRESSION_SANDBOX="1",
        SANDBOX_BASE_URL=sandbox.url,
        SANDBOX_API_KEY=SANDBOX_TEST_KEY,
        # Quick heartbeats and short leases, so a takeover happens within seconds.
        WORKER_HEARTBEAT_SECONDS="0.5",
        JOB_LEASE_SECONDS="3",
        WORKER_SILENT_AFTER_SECONDS="3",
    )
    started: list[subprocess.Popen] = []

    def start(name: str, **extra: str) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.05"],
            cwd=PROJECT,
            env=env | extra,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(condition, *, timeout: float = 90.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}.")
        time.sleep(0.005)
