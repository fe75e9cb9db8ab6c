"""Benchmark for suppression_admin.woodpecker.ingest (on demand, not a test).

Writes realistic CSVs (a header, several columns, about 2 % invalid addresses and 3 %
duplicates) of 100,000 and 1,000,000 rows to a temporary directory, ingests each in a
fresh subprocess and prints rows per second and peak memory: the child's RSS high-water
mark after the ingest minus the one measured after its imports.

Targets: at least 100,000 rows/s, and under 200 MB peak for 1,000,000 rows.

    .venv/bin/python bench/ingest_bench.py [ROWS ...]
    .venv/bin/python bench/ingest_bench.py --workbooks

``--workbooks`` measures .xlsx files instead, with the upload limits as they are: one at the
workbook limits (1,000,000 rows, 1,500,000 distinct strings; target: peak ≤ 300 MB), and
two hostile ones that must be refused quickly with little memory — 7,000,000 distinct
shared strings in a small file, and one 150 MB cell (this one is over the 20 MB upload
limit once zipped, so its child raises ``max_bytes``: the scan is what is measured).

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


def child(path: str, max_bytes: int) -> None:
    """Run in the subprocess: ingest ``path`` and print one JSON line of measurements."""
    from suppression_admin.woodpecker.ingest import IngestRefused, Limits, ingest_upload

    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    figures: dict[str, object] = {}
    with open(path, "rb") as file:
        try:
            result = ingest_upload(file, filename=Path(path).name, limits=Limits(max_bytes))
        except IngestRefused as refused:
            figures["refused"] = str(refused)
        else:
            figures |= {
                "rows": result.rows,
                "valid": len(result.valid),
                "invalid": len(result.invalid),
                "duplicates": len(result.duplicates),
            }
    figures["seconds"] = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures["peak_mb"] = (peak_kb - baseline_kb) / 1024
    print(json.dumps(figures))


def measure(path: Path, max_bytes: int = 1024 * 1024 * 1024) -> dict:
    output = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, "--child", str(path), str(max_bytes)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)


SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas'
    '.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
    '+xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
    '.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="Contacts" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
    '.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)


def write_workbook(
    path: Path, rows: int, strings: int, inline: str = "", *, short: bool = False
) -> None:
    """An .xlsx written part by part as Excel lays it out: row n holds an address (shared
    string n) and, while there are more strings than rows, a note (another shared string);
    ``inline`` is one more cell's inline text."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/sharedStrings.xml", "w") as part:
            part.write(
                b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                b'openxmlformats.org/spreadsheetml/2006/main"><si><t>Email</t></si>'
            )
            for start in range(0, strings, 10_000):
                part.write(
                    "".join(
                        f"<si><t>{n:x}</t></si>"
                        if short
                        else f"<si><t>person.{n}@example{n % 97}.com</t></si>"
                        for n in range(start, min(start + 10_000, strings))
                    ).encode()
                )
            part.write(b"</sst>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(SHEET_HEAD.encode() + b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
            for start in range(0, rows, 10_000):
                chunk = []
                for n in range(start, min(start + 10_000, rows)):
                    note = n + rows + 1
                    extra = f'<c r="B{n + 2}" t="s"><v>{note}</v></c>' if note <= strings else ""
                    chunk.append(
                        f'<row r="{n + 2}"><c r="A{n + 2}" t="s"><v>{n + 1}</v></c>{extra}</row>'
                    )
                part.write("".join(chunk).encode())
            if inline:
                part.write(f'<row r="{rows + 2}"><c r="B{rows + 2}" t="inlineStr"><is><t>'.encode())
                for start in range(0, len(inline), 1 << 20):
                    part.write(inline[start : start + (1 << 20)].encode())
                part.write(b"</t></is></c></row>")
            part.write(b"</sheetData></worksheet>")


def workbooks() -> int:
    rng = random.Random(7)
    words = [f"{rng.getrandbits(40):x}" for _ in range(5_000)]
    cases = [
        ("at the limits: 1,000,000 rows, 1,500,000 strings", 1_000_000, 1_499_999, "", None),
        ("hostile: 7,000,000 distinct shared strings", 10, 7_000_000, "", None),
        (
            "hostile: one 150 MB cell",
            10,
            10,
            " ".join(rng.choices(words, k=14_000_000))[: 150 << 20],
            1024 << 20,
        ),
    ]
    failed = False
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        for name, rows, strings, inline, max_bytes in cases:
            path = Path(tmp) / "book.xlsx"
            write_workbook(path, rows, strings, inline, short=name.startswith("hostile"))
            megabytes = path.stat().st_size / 1024 / 1024
            figures = measure(path, max_bytes or 20 * 1024 * 1024)
            accepted = "refused" not in figures
            ok = figures["peak_mb"] <= 300 and accepted == name.startswith("at the limits")
            failed |= not ok
            outcome = f"{figures['rows']:,} rows read" if accepted else figures["refused"]
            print(
                f"{name} ({megabytes:.1f} MB): {figures['seconds']:.2f} s, "
                f"peak +{figures['peak_mb']:.1f} MB  {'ok' if ok else 'MISSED TARGET'}\n"
                f"    {outcome}"
            )
    return 1 if failed else 0


def main(sizes: tuple[int, ...]) -> int:
    failed = False
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        for rows in sizes:
            path = Path(tmp) / f"contacts-{rows}.csv"
            write_csv(path, rows)
            megabytes = path.stat().st_size / 1024 / 1024
            figures = measure(path)
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
        child(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["--workbooks"]:
        sys.exit(workbooks())
    else:
        sys.exit(main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES))
