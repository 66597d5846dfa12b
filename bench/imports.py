"""How long does importing 100,000 rows take, and how much memory? `importContacts`' job, in one run.

    python bench/imports.py [--backend sqlite|postgres|both] [--rows N] [--formats csv,xlsx]
                            [--mode CONTACTS|LEADS] [--existing N]

For each backend and format, in a subprocess of its own (so its peak RSS is its own):

1. a fresh database (a SQLite file, or the PostgreSQL database `dossier_bench_imports`,
   migrated) with one account and a TEXT custom field, and `--existing` contacts already there
   (by bulk insert) whose emails the file repeats, so that many rows merge;
2. a generated file of `--rows` rows x 10 columns (first and last name, business, title, email,
   phone, city, zip, country and the custom field; every 50th row with a bad email), written as
   it is generated (CSV; XLSX through the exports' streamed writer);
3. `start_import` (read, normalise and store the file; queue the job) and `run_here` (every
   batch, as a worker runs them), timed together: the seconds a user waits for the whole file.

Printed per run: rows, seconds, rows/s, created / merged / skipped, the RSS before the import
and the peak RSS during it (ru_maxrss). Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/imports.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

PG_DATABASE = "dossier_bench_imports"
HEADER = [
    "First name",
    "Last name",
    "Business name",
    "Title",
    "Email",
    "Phone",
    "City",
    "Zip",
    "Country",
    "Segment code",
]


def rows(count: int) -> Iterator[list[str]]:
    for n in range(count):
        email = f"person{n}@example.com" if n % 50 != 49 else f"person{n}-at-example.com"
        yield [
            f"First{n}",
            f"Last{n}",
            f"Company {n % 997}",
            "Buyer",
            email,
            f"+1415{2000000 + n:07d}",
            "San Francisco",
            f"{94100 + n % 100}",
            "US",
            f"S{n % 13}",
        ]


async def write_file(path: Path, count: int, fmt: str) -> None:
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(HEADER)
            writer.writerows(rows(count))
        return
    from crm.exports.xlsx import header_xml, package, rows_xml

    async def xml() -> AsyncIterator[bytes]:
        yield header_xml(HEADER)
        batch: list[list[str]] = []
        number = 2
        for row in rows(count):
            batch.append(row)
            if len(batch) == 1000:
                yield rows_xml(batch, number)
                number += len(batch)
                batch = []
        if batch:
            yield rows_xml(batch, number)

    with open(path, "wb") as out:
        async for chunk in package(xml()):
            out.write(chunk)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def one_run(
    backend: str, fmt: str, count: int, mode: str, existing: int, folder: Path
) -> dict[str, object]:
    from bench.server import fresh_database
    from crm import storage
    from crm.custom_values import FieldType
    from crm.db import close_database, migrate_database, open_database
    from crm.models import Contact
    from crm.services import accounts, custom_fields, imports
    from crm.storage.directory import DirectoryStorage

    url = await fresh_database(backend, PG_DATABASE, folder / "bench.db")
    if url is None:
        return {"unavailable": True}
    await migrate_database(url)
    await open_database(url)
    storage.configure(DirectoryStorage(folder / "files"))
    try:
        issued = await accounts.create_account("Bench", "admin@bench.example.com", "Bench Admin")
        actor = await accounts.system_actor("Bench")
        await custom_fields.create_field(actor, key="segment_code", label="Segment code", type=FieldType.TEXT)
        if existing:
            await Contact.bulk_create(
                [
                    Contact(
                        account_id=actor.account_id,
                        status="New",
                        first_name=f"Old{n}",
                        email=f"person{n}@example.com",
                    )
                    for n in range(0, existing * 2, 2)
                ],
                batch_size=1000,
            )
        path = folder / f"people.{fmt}"
        await write_file(path, count, fmt)
        before = rss_mb()

        async def chunks() -> AsyncIterator[bytes]:
            with open(path, "rb") as f:
                while chunk := f.read(64 * 1024):
                    yield chunk

        started = time.perf_counter()
        job = await imports.start_import(actor, stream=chunks(), filename=path.name, mode=mode)
        read = time.perf_counter() - started
        job = await imports.run_here(job.id)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result = job.result or {}
        assert issued.user is not None
        return {
            "backend": backend,
            "format": fmt,
            "rows": count,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "status": job.status,
            "seconds": round(seconds, 1),
            "read_seconds": round(read, 1),
            "rows_per_s": round(count / seconds),
            "created": result.get("created"),
            "merged": result.get("merged"),
            "skipped": job.skipped,
            "rss_before_mb": round(before),
            "peak_rss_mb": round(peak),
        }
    finally:
        await close_database()


def child(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dossier-bench-import-") as folder:
        outcome = asyncio.run(
            one_run(args.child_backend, args.child_format, args.rows, args.mode, args.existing, Path(folder))
        )
    print(json.dumps(outcome))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--mode", default="CONTACTS", choices=["CONTACTS", "LEADS"])
    parser.add_argument(
        "--existing", type=int, default=10_000, help="contacts already there whose emails rows repeat"
    )
    parser.add_argument("--child-backend", help=argparse.SUPPRESS)
    parser.add_argument("--child-format", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_backend:
        child(args)
        return
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    print(
        f"import of {args.rows:,} rows x {len(HEADER)} columns, mode {args.mode}, {args.existing:,} existing"
    )
    print(
        f"{'backend':9} {'format':6} {'MB':>5} {'seconds':>8} {'(read)':>7} {'rows/s':>7} {'created':>8} "
        f"{'merged':>7} {'skipped':>8} {'RSS before':>11} {'peak RSS':>9}"
    )
    for backend in backends:
        for fmt in formats:
            command = [
                sys.executable,
                __file__,
                "--rows",
                str(args.rows),
                "--mode",
                args.mode,
                "--existing",
                str(args.existing),
            ]
            command += ["--child-backend", backend, "--child-format", fmt]
            done = subprocess.run(
                command, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )
            if done.returncode != 0:
                print(f"{backend:9} {fmt:6} failed:\n{done.stderr[-3000:]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            if r.get("unavailable"):
                print(f"{backend:9} {fmt:6} skipped (no PostgreSQL)")
                continue
            print(
                f"{backend:9} {fmt:6} {r['file_mb']:>5} {r['seconds']:>8} {r['read_seconds']:>7} "
                f"{r['rows_per_s']:>7} {r['created']:>8} {r['merged']:>7} {r['skipped']:>8} "
                f"{r['rss_before_mb']:>9} MB {r['peak_rss_mb']:>6} MB"
            )


if __name__ == "__main__":
    main()
