"""Benchmark: a removal job against a local server that takes one request at a time.

The server (its own process, as Woodpecker is) answers each DELETE ``latency`` after its
request line arrived, one at a time. The floor Woodpecker's rule allows is chunks x latency;
the job adds its own work per chunk (one transaction: outcomes, items ahead, claim, call
row; the key's turn; the answer's row). Printed per latency: wall / floor, and our own
milliseconds per chunk. Targets (issue 7): at 300 ms <= 1.05 on both databases; at 50 ms
<= 1.15 on SQLite and <= 1.25 on PostgreSQL.

    .venv/bin/python bench/removal_bench.py [--emails 60000] [--latency-ms 50 150 300]
        [--databases sqlite postgres] [--postgres-url postgres://postgres@127.0.0.1:5432]

Each database is a throw-away one (a temporary SQLite file; a PostgreSQL database created
and dropped on the given server), run in its own process.
"""

import argparse
import http.server
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
TARGETS = {("sqlite", 50): 1.15, ("postgres", 50): 1.25, ("sqlite", 300): 1.05}
TARGETS[("postgres", 300)] = 1.05


class OneAtATimeServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.latency = latency
        self.lock = threading.Lock()
        self.one_at_a_time = threading.Lock()
        self.in_flight = 0
        self.max_concurrency = 0
        self.requests = 0


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers each DELETE ``latency`` after its request line arrived (or after the request
    before it, if it had to wait), one at a time."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    # As a production HTTP server: the answer is not held back waiting for an ACK.
    disable_nagle_algorithm = True

    def parse_request(self) -> bool:
        # The request line has just been read: the latency counts from here.
        self.arrived = time.monotonic()
        return super().parse_request()

    def do_DELETE(self) -> None:
        server: OneAtATimeServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests += 1
            server.in_flight += 1
            server.max_concurrency = max(server.max_concurrency, server.in_flight)
        begins = self.arrived
        if not server.one_at_a_time.acquire(blocking=False):
            server.one_at_a_time.acquire()
            begins = time.monotonic()
        try:
            answer = json.dumps({"emails": body["emails"]}).encode()
            time.sleep(max(0.0, begins + server.latency - time.monotonic()))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        finally:
            server.one_at_a_time.release()
            with server.lock:
                server.in_flight -= 1

    def log_message(self, *args) -> None:
        pass


def serve(latency: float, ready, counters, stop) -> None:
    server = OneAtATimeServer(latency)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.put(server.server_address[1])
    stop.wait()
    counters.put((server.requests, server.max_concurrency))
    server.shutdown()


def measure(emails: int, latency_ms: float) -> dict:
    """One job against a fresh server: run in a process whose database is set up."""
    ready, counters = multiprocessing.Queue(), multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(
        target=serve, args=(latency_ms / 1000, ready, counters, stop), daemon=True
    )
    server.start()
    port = ready.get(timeout=10)

    from django.conf import settings
    from django.contrib.auth.models import User

    from suppression_admin.jobs.engine import job_run
    from suppression_admin.woodpecker.models import DraftSource, RemovalDraft
    from suppression_admin.woodpecker.services import removal_job_start

    settings.WOODPECKER_BASE_URL = f"http://127.0.0.1:{port}/rest"
    user, _ = User.objects.get_or_create(username="bench")
    addresses = [f"person{i}@bench-company.com" for i in range(emails)]
    draft = RemovalDraft.objects.create(
        created_by=user,
        source=DraftSource.PASTE,
        rows=emails,
        valid_count=emails,
        emails="\n".join(addresses),
    )
    job = removal_job_start(actor=user, draft=draft, reason="benchmark", schedule=False)
    settle_database()

    started = time.perf_counter()
    job = job_run(job.pk, worker_id="bench").job
    wall = time.perf_counter() - started

    stop.set()
    requests, max_concurrency = counters.get(timeout=10)
    server.join(timeout=10)
    chunks = -(-emails // 500)
    floor = chunks * latency_ms / 1000
    return {
        "latency_ms": latency_ms,
        "status": job.operation.status,
        "removed": job.done,
        "requests": requests,
        "max_concurrency": max_concurrency,
        "wall": wall,
        "floor": floor,
        "ratio": wall / floor,
        "own_ms_per_chunk": (wall - floor) * 1000 / chunks,
    }


def settle_database() -> None:
    """Flush what the set-up wrote, so the measurement does not pay for it."""
    from django.db import DatabaseError, connection

    statement = "CHECKPOINT" if connection.vendor == "postgresql" else "PRAGMA wal_checkpoint"
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    except DatabaseError as error:  # e.g. a PostgreSQL role without pg_checkpoint
        print(f"(could not flush the database before measuring: {error})")
    time.sleep(1)


def run_one_database(database: str, emails: int, latencies: list[float]) -> None:
    """In a process of its own: set Django up on the database, measure each latency."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="suppression_admin.settings",
        SUPPRESSION_SANDBOX="0",
        WOODPECKER_BASE_URL="http://127.0.0.1:9/rest",  # replaced per measurement
        WOODPECKER_API_KEY="bench-key",
        KEY_LOCK_DIR=tempfile.mkdtemp(prefix="removal-bench-locks-"),
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for latency in latencies:
        print(json.dumps({"database": database, "emails": emails, **measure(emails, latency)}))
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=60_000)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[50.0, 150.0, 300.0])
    parser.add_argument(
        "--databases", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one database here
    args = parser.parse_args()

    if args.one:
        run_one_database(args.one, args.emails, args.latency_ms)
        return

    results = []
    for database in args.databases:
        env = dict(os.environ)
        name = f"removal_bench_{uuid.uuid4().hex[:8]}"
        if database == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='removal-bench-')}/b.db"
        else:
            create_postgres(args.postgres_url, name)
            env["DATABASE_URL"] = f"{args.postgres_url}/{name}"
        try:
            command = [sys.executable, __file__, "--one", database, "--emails", str(args.emails)]
            command += ["--latency-ms", *map(str, args.latency_ms)]
            output = subprocess.run(  # noqa: S603 - this very script, fixed arguments
                command, env=env, check=True, capture_output=True, text=True
            ).stdout
            results += [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        finally:
            if database == "postgres":
                drop_postgres(args.postgres_url, name)

    print(f"{args.emails:,} addresses ({-(-args.emails // 500)} chunks of <= 500), one at a time")
    print(
        f"{'database':<10} {'latency':>8} {'wall':>8} {'floor':>8} {'wall/floor':>11} "
        f"{'ours/chunk':>11} {'target':>7}  requests  status"
    )
    for r in results:
        target = TARGETS.get((r["database"], int(r["latency_ms"])))
        goal = f"<= {target:.2f}" if target else ""
        print(
            f"{r['database']:<10} {r['latency_ms']:>6.0f}ms {r['wall']:>7.2f}s {r['floor']:>7.2f}s "
            f"{r['ratio']:>11.3f} {r['own_ms_per_chunk']:>9.1f}ms "
            f"{goal:>7}  {r['requests']:>8}  {r['status']}"
            f" (max concurrency {r['max_concurrency']})"
        )


def create_postgres(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{url}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_postgres(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{url}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
