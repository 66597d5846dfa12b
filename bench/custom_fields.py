"""What does "apply a custom field to all contacts" cost? The background job beside one value at a time.

    python bench/custom_fields.py [--backend sqlite|postgres|both] [--contacts N] [--batch B]
                                  [--single N] [--explain]

For each backend: a fresh database (a SQLite file, or the PostgreSQL database
`dossier_bench_custom_fields`) with one account and `--contacts` contacts (bulk inserts:
set-up), a tenth of which already hold a value. Then, in one run:

- job: `applyCustomFieldToAll` through the service, its steps delivered by the real outbox
  dispatcher (`drain()`), `--batch` contacts per step (DOSSIER_JOB_BATCH_SIZE): each step one
  transaction with one multi-row insert of values and one of journey entries;
- one by one: `setCustomFieldValues` for `--single` contacts in turn (one transaction, one
  journey entry and one locked contact each): what the job saves over a loop of mutations.

Reported: contacts/s for both and their ratio. `--explain` (PostgreSQL) also fills a TEXT, a
NUMBER and a MULTI_SELECT field for every contact and prints EXPLAIN ANALYZE of `= x`, a range,
a sort and "holds option x": the index scans the contacts table will filter and sort with.
Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/custom_fields.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from tortoise import connections  # noqa: E402

from bench.server import fresh_database  # noqa: E402
from crm import jobs  # noqa: E402
from crm.actor import Actor  # noqa: E402
from crm.custom_values import FieldType, stored  # noqa: E402
from crm.db import close_database, open_database  # noqa: E402
from crm.models import BackgroundJob, Contact, CustomFieldValue, JourneyEvent  # noqa: E402
from crm.services import accounts  # noqa: E402
from crm.services import custom_fields as service  # noqa: E402
from plugins.dispatcher import Dispatcher  # noqa: E402
from plugins.manager import builtin_names, make_plugin_manager  # noqa: E402

PG_DATABASE = "dossier_bench_custom_fields"


async def seed(contacts: int) -> tuple[Actor, list[int]]:
    issued = await accounts.create_account("Bench", "admin@bench.example.com", "Bench Admin")
    account_id = issued.user.account_id  # type: ignore[attr-defined]
    actor = Actor.user(account_id, issued.user.id, "Bench Admin", "admin")
    await Contact.bulk_create(
        [Contact(account_id=account_id, first_name=f"Pat{i}", status="lead") for i in range(contacts)],
        batch_size=2000,
    )
    ids = list(await Contact.filter(account_id=account_id).order_by("id").values_list("id", flat=True))
    return actor, ids


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, float] | None:
    url = await fresh_database(backend, PG_DATABASE, workdir / "custom_fields.db")
    if url is None:
        return None
    await open_database(url)
    try:
        actor, ids = await seed(args.contacts)
        field = await service.create_field(actor, label="Tier", key="tier", type=FieldType.SELECT,
                                           options=["gold", "silver"])  # fmt: skip
        await CustomFieldValue.bulk_create(
            [
                CustomFieldValue(field_id=field.id, contact_id=i, **stored({"value_text": "gold"}))
                for i in ids[::10]
            ],
            batch_size=2000,
        )
        jobs.configure(batch_size=args.batch)
        dispatcher = Dispatcher(make_plugin_manager(disabled=builtin_names(), load_entry_points=False))

        started = time.perf_counter()
        job = await service.apply_to_all(actor, "tier", "silver")
        await dispatcher.drain()
        job_seconds = time.perf_counter() - started
        job = await BackgroundJob.get(id=job.id)
        entries = await JourneyEvent.filter(subject_type="BackgroundJob", subject_id=job.id).count()
        assert job.status == "DONE" and job.done == entries, (job.status, job.done, entries)

        single = await service.create_field(actor, label="Score", key="score", type=FieldType.NUMBER)
        started = time.perf_counter()
        for contact_id in ids[: args.single]:
            await service.set_values(actor, contact_id, [(single.key, 7)])
        single_seconds = time.perf_counter() - started

        if args.explain and backend == "postgres":
            await explain(actor, ids)
        return {
            "contacts": len(ids),
            "filled": job.done,
            "skipped": job.skipped,
            "steps": job.step,
            "job_seconds": job_seconds,
            "job_rate": job.done / job_seconds,
            "single_rate": args.single / single_seconds,
        }
    finally:
        await close_database()


async def explain(actor: Actor, ids: list[int]) -> None:
    rng = random.Random(7)
    note = await service.create_field(actor, label="Code", key="code", type=FieldType.TEXT)
    score = await service.create_field(actor, label="Rating", key="rating", type=FieldType.NUMBER)
    topics = await service.create_field(actor, label="Topics", key="topics", type=FieldType.MULTI_SELECT,
                                        options=["solar", "roof", "windows", "doors", "pool"])  # fmt: skip
    rows = []
    for contact_id in ids:
        rows.append(
            CustomFieldValue(
                field_id=note.id, contact_id=contact_id, **stored({"value_text": f"C{contact_id}"})
            )
        )
        rows.append(CustomFieldValue(field_id=score.id, contact_id=contact_id,
                                     **stored({"value_number": rng.randint(0, 100_000)})))  # fmt: skip
        chosen = sorted(rng.sample(["solar", "roof", "windows", "doors", "pool"], 1))
        if rng.random() < 0.02:
            chosen = ["pool", "solar"]
        rows.append(
            CustomFieldValue(field_id=topics.id, contact_id=contact_id, **stored({"value_json": chosen}))
        )
    await CustomFieldValue.bulk_create(rows, batch_size=2000)
    conn = connections.get("default")
    await conn.execute_script("ANALYZE custom_field_value")
    queries = {
        "TEXT = x": f"SELECT contact_id FROM custom_field_value WHERE field_id = {note.id}"
        f" AND value_text = 'C{ids[500]}'",
        "NUMBER range": f"SELECT contact_id FROM custom_field_value WHERE field_id = {score.id}"
        " AND value_number BETWEEN 500 AND 700",
        "NUMBER sort, first 50": f"SELECT contact_id FROM custom_field_value WHERE field_id = {score.id}"
        " ORDER BY value_number DESC LIMIT 50",
        "MULTI_SELECT holds both": f"SELECT contact_id FROM custom_field_value WHERE field_id = {topics.id}"
        ' AND value_json @> \'["pool", "solar"]\'',
    }
    rows_total = await CustomFieldValue.all().count()
    print(f"\nEXPLAIN ANALYZE on PostgreSQL, custom_field_value holding {rows_total} rows:")
    for label, sql in queries.items():
        plan = await conn.execute_query_dict(f"EXPLAIN ANALYZE {sql}")
        print(f"-- {label}: {sql}")
        for line in plan:
            print("   ", line["QUERY PLAN"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=jobs.DEFAULT_BATCH_SIZE)
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            result = asyncio.run(run_backend(backend, args, Path(tmp)))
            if result is None:
                continue
            print(
                f"{backend}: {result['contacts']} contacts, job filled {result['filled']} "
                f"(skipped {result['skipped']}) in {result['steps']} steps of {args.batch}, "
                f"{result['job_seconds']:.1f} s: {result['job_rate']:,.0f} contacts/s; "
                f"setCustomFieldValues one by one: {result['single_rate']:,.0f} contacts/s; "
                f"ratio {result['job_rate'] / result['single_rate']:.1f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
