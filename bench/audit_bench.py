"""Benchmark: the auditor's pages and exports on a big audit log (on demand, not a test).

Seeds a throw-away database with 100,000 finished operations: one bulk removal of
1,000,000 addresses and 99,999 small ones of 1 to 8 items (about 450,000 items, a person
often in several), one call per small operation and 2,000 for the big one. Then measures
the server time of each page (Django's test client in the process: URL routing, queries,
template, no network) and the exports, each in a fresh process (time, and peak memory above
the process's start):

- list: the audit list, pages 1 to 20;
- search by email: an exact address, and the start of one (``match=prefix``);
- ticket: an exact ticket, and the start of one;
- detail: the big operation's page (item pages 1 to 50, and "find an address" in it) and
  small operations' pages;
- export: the big operation as CSV (the page's download) and as JSONL (``export_audit``).

Targets (issue 8): list and searches p95 <= 50 ms, detail p95 <= 100 ms; an export of the
1,000,000-item operation under 200 MB.

    .venv/bin/python bench/audit_bench.py [--databases sqlite postgres]
        [--postgres-url postgres://postgres@127.0.0.1:5432] [--small 99999] [--big 1000000]

Each database is a throw-away one (a temporary SQLite file; a PostgreSQL database created
and dropped on the given server). PostgreSQL is VACUUM ANALYZEd after seeding, as its
autovacuum would soon do (measured meanwhile, autovacuum's own work skews the figures);
SQLite is not (nothing runs ANALYZE on it in production either).
"""

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

# (bench/ is on the path when a bench is run as a script.)
from removal_bench import create_postgres, drop_postgres

PROJECT = Path(__file__).resolve().parents[1]
REQUESTS = 60
TARGET_MS = {"list": 50, "search": 50, "ticket": 50, "detail": 100}
TARGET_EXPORT_MB = 200
REASONS = (
    "Blocked by mistake during the March import",
    "Client asked to hear from us again",
    "Duplicate block after a CRM sync",
    "Opt-out withdrawn in writing, see ticket",
)


# -- in the child process ----------------------------------------------------------------


def setup_django() -> None:
    sys.path.insert(0, str(PROJECT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suppression_admin.settings")
    import django

    django.setup()


def seed(small: int, big: int) -> dict:
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import F

    from suppression_admin.audit.identifiers import item_search_key
    from suppression_admin.audit.models import Operation, ProviderCall
    from suppression_admin.audit.services import _insert_item_rows

    call_command("migrate", verbosity=0)
    # The pages are measured as production serves them: hashed static files (STATIC_ROOT is
    # the bench's own folder).
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.perf_counter()
    rng = random.Random(8)
    actor = User.objects.create(username="bench.operator")
    auditor = User.objects.create(username="bench.auditor")
    auditor.user_permissions.add(Permission.objects.get(codename="review_audit"))
    people = [f"person{n}@example{n % 97}.com" for n in range(200_000)]
    now = datetime.now(UTC)

    def operation(number: int, items: int, done: int, ticket: str) -> Operation:
        created = now - timedelta(minutes=5 * (small + 1 - number))
        return Operation(
            provider="woodpecker",
            action="remove",
            actor=actor,
            actor_username=actor.username,
            created_at=created,
            started_at=created,
            reason=rng.choice(REASONS),
            ticket=ticket,
            ticket_key=ticket.lower(),
            source="file",
            status="in_progress",
            summary=f"{items} requested.",
            item_total=items,
            item_done=done,
            call_total=max(1, -(-items // 500)),
            outcome_counts={"removed": done, "not_listed": items - done},
        )

    big_op = Operation.objects.bulk_create([operation(0, big, big // 2, "BIG-1")])[0]
    rows = (
        (big_op.pk, p, f"bulk{p}@bulk.example.com", f"bulk{p}@bulk.example.com", "", "", o, "")
        for p in range(big)
        for o in (("removed" if p % 2 else "not_listed"),)
    )
    _insert_item_rows(rows)
    ProviderCall.objects.bulk_create(
        ProviderCall(
            operation=big_op,
            sequence=n + 1,
            purpose="remove",
            batch=n,
            method="DELETE",
            path="/v1/stop_followups/blacklist",
            item_count=500,
            started_at=big_op.started_at,
            finished_at=big_op.started_at,
            duration_ms=180,
            status_code=200,
        )
        for n in range(-(-big // 500))
    )
    sizes = [rng.randint(1, 8) for _ in range(small)]
    for first in range(0, small, 5000):
        batch = [
            operation(n + 1, sizes[n], sizes[n], f"SUP-{n + 1}")
            for n in range(first, min(first + 5000, small))
        ]
        created = Operation.objects.bulk_create(batch)
        item_rows = []
        for op in created:
            for position in range(op.item_total):
                email = rng.choice(people)
                key = item_search_key(email)
                item_rows.append((op.pk, position, email, key, "", "", "removed", ""))
        _insert_item_rows(iter(item_rows))
        ProviderCall.objects.bulk_create(
            ProviderCall(
                operation=op,
                sequence=1,
                purpose="remove",
                method="DELETE",
                path="/v1/stop_followups/blacklist",
                item_count=op.item_total,
                started_at=op.started_at,
                finished_at=op.started_at,
                duration_ms=150,
                status_code=200,
            )
            for op in created
        )
    # Finished last: the database refuses calls for a finished operation.
    Operation.objects.update(status="succeeded", finished_at=F("started_at") + timedelta(seconds=3))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {
        "operations": Operation.objects.count(),
        "items": big + sum(sizes),
        "seed_seconds": round(time.perf_counter() - started, 1),
    }


def measure() -> dict:
    from django.contrib.auth.models import User
    from django.db import connection, reset_queries
    from django.test import Client
    from django.urls import reverse

    from suppression_admin.audit.models import Operation, OperationItem

    rng = random.Random(11)
    client = Client(SERVER_NAME="localhost")
    client.force_login(User.objects.get(username="bench.auditor"))
    big = Operation.objects.get(ticket="BIG-1")
    sample_ops = list(
        Operation.objects.exclude(pk=big.pk).order_by("?").values_list("pk", "ticket")[:REQUESTS]
    )
    emails = list(
        OperationItem.objects.filter(operation_id__in=[pk for pk, _ in sample_ops])
        .values_list("identifier", flat=True)
        .distinct()[:REQUESTS]
    )
    audit = reverse("audit:operations")
    cases = {
        "list": [(audit, {"page": rng.randint(1, 20)}) for _ in range(REQUESTS)],
        "search": [(audit, {"identifier": email}) for email in emails],
        "search prefix": [
            (audit, {"identifier": email[:12], "match": "prefix"}) for email in emails
        ],
        "ticket": [(audit, {"ticket": ticket}) for _, ticket in sample_ops],
        "ticket prefix": [
            (audit, {"ticket": ticket[:7], "match": "prefix"}) for _, ticket in sample_ops
        ],
        "detail big": [
            (reverse("audit:operation_detail", args=[big.pk]), {"items_page": n})
            for n in [rng.randint(1, 50) for _ in range(REQUESTS)]
        ],
        "detail big find": [
            (
                reverse("audit:operation_detail", args=[big.pk]),
                {"find": f"bulk{rng.randrange(1_000_000)}@bulk.example.com"},
            )
            for _ in range(REQUESTS)
        ],
        "detail small": [
            (reverse("audit:operation_detail", args=[pk]), {}) for pk, _ in sample_ops
        ],
    }
    results = {}
    for name, requests in cases.items():
        client.get(*requests[0])  # warm the connection and the templates
        times = []
        for url, params in requests:
            reset_queries()
            started = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, url, params, response.status_code)
        times.sort()
        results[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1),
        }
    results["vendor"] = connection.vendor
    return results


def export(kind: str) -> dict:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    size = 0
    if kind == "csv":
        client = Client(SERVER_NAME="localhost")
        client.force_login(User.objects.get(username="bench.auditor"))
        response = client.get(reverse("audit:export_csv"), {"ticket": "BIG-1"})
        for block in response.streaming_content:
            size += len(block)
    else:
        sink = _Counting()
        call_command("export_audit", "--ticket", "BIG-1", stdout=sink)
        size = sink.size
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": round(seconds, 1),
        "peak_mb_above_start": round((peak_kb - baseline_kb) / 1024, 1),
        "peak_mb": round(peak_kb / 1024, 1),
        "bytes": size,
    }


class _Counting:
    """A stdout that only counts what is written to it."""

    size = 0

    def write(self, text: str) -> None:
        self.size += len(text.encode())

    def flush(self) -> None:
        pass


def child(args: argparse.Namespace) -> None:
    setup_django()
    if args.child == "seed":
        result = seed(args.small, args.big)
    elif args.child == "measure":
        result = measure()
    else:
        result = export(args.child.removeprefix("export-"))
    print(json.dumps(result))


# -- the parent ----------------------------------------------------------------------------


def run_child(step: str, env: dict, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", step, "--small", str(args.small)]
    command += ["--big", str(args.big)]
    done = subprocess.run(  # noqa: S603 - this very script, fixed arguments
        command, env=env, cwd=PROJECT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"{step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--databases", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--small", type=int, default=99_999)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for database in args.databases:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "suppression_admin.settings", "DEBUG": ""}
        name = f"audit_bench_{uuid.uuid4().hex[:8]}"
        folder = tempfile.mkdtemp(prefix="audit-bench-")
        env["STATIC_ROOT"] = f"{folder}/static"
        if database == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{folder}/b.db"
        else:
            create_postgres(args.postgres_url, name)
            env["DATABASE_URL"] = f"{args.postgres_url}/{name}"
        try:
            seeded = run_child("seed", env, args)
            print(f"== {database}: {seeded}", flush=True)
            pages = run_child("measure", env, args)
            for case, figures in pages.items():
                if case != "vendor":
                    target = TARGET_MS.get(case.split()[0])
                    verdict = "" if target is None else f" (target {target} ms)"
                    print(f"  {case:16} {figures}{verdict}", flush=True)
            for kind in ("csv", "jsonl"):
                figures = run_child(f"export-{kind}", env, args)
                print(f"  export {kind:9} {figures} (target < {TARGET_EXPORT_MB} MB)", flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if database == "postgres":
                drop_postgres(args.postgres_url, name)


if __name__ == "__main__":
    main()
