"""Benchmark: a Woodpecker removal job against a local server with a fixed latency.

The server processes one request at a time (as Woodpecker does) and answers each after
``--latency-ms``. The floor Woodpecker's rule allows is chunks x latency; the figure printed
is wall time / floor. Target: <= 1.10 at 50 ms for 60,000 addresses (120 chunks).

    .venv/bin/python bench/removal_bench.py [--emails 60000] [--latency-ms 50] [--server-nagle]

Uses a throw-away SQLite database unless DATABASE_URL is set.
"""

import argparse
import http.server
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


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
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits for
    # the client to acknowledge the headers. (--server-nagle measures that case.)
    disable_nagle_algorithm = True

    def parse_request(self) -> bool:
        # The request line has just been read: the latency counts from here, so the
        # server's own parsing is part of it rather than added to it.
        self.arrived = time.monotonic()
        return super().parse_request()

    def do_DELETE(self) -> None:
        server: OneAtATimeServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests += 1
            server.in_flight += 1
            server.max_concurrency = max(server.max_concurrency, server.in_flight)
        # As Woodpecker: one request is processed at a time, the others wait their turn.
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


def serve(latency: float, nagle: bool, ready, counters, stop) -> None:
    Handler.disable_nagle_algorithm = not nagle
    server = OneAtATimeServer(latency)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.put(server.server_address[1])
    stop.wait()
    counters.put((server.requests, server.max_concurrency))
    server.shutdown()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=60_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--server-nagle",
        action="store_true",
        help="leave Nagle's algorithm on in the server, as Python's http.server does",
    )
    args = parser.parse_args()

    # The server runs in its own process, as Woodpecker would: its work must not compete
    # with the job's for this interpreter's GIL.
    ready = multiprocessing.Queue()
    counters = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server_process = multiprocessing.Process(
        target=serve,
        args=(args.latency_ms / 1000, args.server_nagle, ready, counters, stop),
        daemon=True,
    )
    server_process.start()
    port = ready.get(timeout=10)
    workdir = tempfile.mkdtemp(prefix="removal-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="suppression_admin.settings",
        SUPPRESSION_SANDBOX="0",
        WOODPECKER_BASE_URL=f"http://127.0.0.1:{port}/rest",
        WOODPECKER_API_KEY="bench-key",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from suppression_admin.woodpecker.jobs import removal_job_run
    from suppression_admin.woodpecker.models import DraftSource, RemovalDraft
    from suppression_admin.woodpecker.services import removal_job_start

    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench")
    emails = [f"person{i}@bench-company.com" for i in range(args.emails)]
    draft = RemovalDraft.objects.create(
        created_by=user,
        source=DraftSource.PASTE,
        rows=len(emails),
        valid_count=len(emails),
        emails="\n".join(emails),
    )
    job = removal_job_start(actor=user, draft=draft, reason="benchmark")
    settle_database()

    started = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        job = profiler.runcall(removal_job_run, job.pk)
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(35)
        stats.print_callers("sleep|read1|select")
    else:
        job = removal_job_run(job.pk)
    wall = time.perf_counter() - started

    stop.set()
    requests_received, max_concurrency = counters.get(timeout=10)
    server_process.join(timeout=10)

    chunks = -(-args.emails // 500)
    floor = chunks * args.latency_ms / 1000
    print(f"addresses            {args.emails:,} ({chunks} chunks of <= 500)")
    nagle = ", server with Nagle's algorithm on" if args.server_nagle else ""
    print(f"latency              {args.latency_ms:.0f} ms, one request at a time{nagle}")
    print(f"job status           {job.status}, removed {job.removed:,}")
    print(f"requests received    {requests_received} (max concurrency {max_concurrency})")
    print(f"wall time            {wall:.2f} s (includes writing {args.emails:,} audit items)")
    print(f"floor                {floor:.2f} s")
    print(f"wall / floor         {wall / floor:.3f}   (target <= 1.10)")


if __name__ == "__main__":
    main()
