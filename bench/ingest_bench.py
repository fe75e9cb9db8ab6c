"""Benchmark for suppression_admin.woodpecker.ingest (on demand, not a test).

Writes realistic CSVs (a header, several columns, about 2 % invalid addresses and 3 %
duplicates) of 100,000 and 1,000,000 rows to a temporary directory, ingests each in a
fresh subprocess and prints rows per second and peak memory: the child's RSS high-water
mark after the ingest minus the one measured after its imports.

Targets: at least 100,000 rows/s, and under 200 MB peak for 1,000,000 rows.

    .venv/bin/python bench/ingest_bench.py [ROWS ...]

The files are larger than the default 20 MB upload limit (a million rows of several
columns is about 70 MB), so the child raises ``max_bytes``; the other limits stay.
"""

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (100_000, 1_000_000)
TARGET_ROWS_PER_SECOND = 100_000
TARGET_PEAK_MB = 200
FIRST_NAMES = ("anna", "bob", "chloé", "david", "eva", "farid", "grace", "hugo", "iris", "jan")
LAST_NAMES = ("smith", "müller", "dubois", "rossi", "garcía", "kowalski", "nguyen", "o'brien")
DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.co.uk", "ex.io")
COMPANIES = ("Acme, Inc.", "Globex", 'The "Best" Co', "Initech", "Umbrella; Ltd")
INVALID = ("bob@@example.com", "no-at-sign.example.com", "x@", "@example.com", "a b@example.com")


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    """A CSV like a CRM export: header, quoted fields with commas and quotes, LF endings."""
    rng = random.Random(seed)
    emitted: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("id,first_name,last_name,email,company,country,signed_up\n")
        for index in range(rows):
            roll = rng.random()
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if roll < 0.02:
                email = rng.choice(INVALID)
            elif roll < 0.05 and emitted:
                email = rng.choice(emitted).upper()
            else:
                local = f"{first}.{last}{index}".replace("'", "").encode("ascii", "ignore")
                email = f"{local.decode()}@{rng.choice(DOMAINS)}"
                if len(emitted) < 10_000:
                    emitted.append(email)
            company = rng.choice(COMPANIES).replace('"', '""')
            day = 1 + index % 28
            file.write(
                f'{index},{first.title()},{last.title()},{email},"{company}",FR,2024-03-{day:02}\n'
            )


def child(path: str) -> None:
    """Run in the subprocess: ingest ``path`` and print one JSON line of measurements."""
    from suppression_admin.woodpecker.ingest import Limits, ingest_upload

    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with open(path, "rb") as file:
        result = ingest_upload(
            file, filename=Path(path).name, limits=Limits(max_bytes=1024 * 1024 * 1024)
        )
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": result.rows,
                "valid": len(result.valid),
                "invalid": len(result.invalid),
                "duplicates": len(result.duplicates),
                "seconds": elapsed,
                "peak_mb": (peak_kb - baseline_kb) / 1024,
            }
        )
    )


def main(sizes: tuple[int, ...]) -> int:
    failed = False
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        for rows in sizes:
            path = Path(tmp) / f"contacts-{rows}.csv"
            write_csv(path, rows)
            megabytes = path.stat().st_size / 1024 / 1024
            output = subprocess.run(  # noqa: S603 - our own interpreter and script
                [sys.executable, __file__, "--child", str(path)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            figures = json.loads(output)
            rate = figures["rows"] / figures["seconds"]
            ok = rate >= TARGET_ROWS_PER_SECOND and (
                rows < 1_000_000 or figures["peak_mb"] < TARGET_PEAK_MB
            )
            failed |= not ok
            print(
                f"{rows:>9,} rows ({megabytes:5.1f} MB): {figures['seconds']:6.2f} s, "
                f"{rate:>9,.0f} rows/s, peak +{figures['peak_mb']:6.1f} MB  "
                f"[valid {figures['valid']:,}, invalid {figures['invalid']:,}, "
                f"duplicates {figures['duplicates']:,}]  {'ok' if ok else 'MISSED TARGET'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.path.insert(0, str(ROOT))
        child(sys.argv[2])
    else:
        sys.exit(main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES))
