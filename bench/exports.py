"""How long does exporting the contacts table take, and how much memory? `exportContacts` at 100k rows.

    python bench/exports.py [--backend sqlite|postgres|both] [--contacts N] [--format csv|xlsx|both]

For each backend: a fresh database (a SQLite file, or the PostgreSQL database
`dossier_bench_exports`) with one account and `--contacts` contacts inserted in batches
(set-up): names, emails, phones, addresses, statuses and owners on every card, tags on a third,
a custom field value on half, deals on a fifth, a logged call on a tenth. Then, per format, in
one run: `exportContacts` through the service (default columns plus the custom field, the tags
and the deal total: every kind of column), its steps delivered by the real outbox dispatcher
(`drain()`), the file streamed into a directory storage.

Reported: seconds for the whole job (queued to file), rows/s, the file's size, and the process's
peak resident memory during the export alone (the kernel's high-water mark, reset after set-up
through /proc/self/clear_refs) next to the memory before it: a flat export adds the same few MB
whatever the number of rows. Not a test: it asserts nothing about time.
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
if str(ROOT) not in sys.path:  # `python bench/exports.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from bench.server import fresh_database  # noqa: E402
from crm import storage  # noqa: E402
from crm.actor import Actor  # noqa: E402
from crm.custom_values import FieldType, stored  # noqa: E402
from crm.db import close_database, open_database  # noqa: E402
from crm.models import (  # noqa: E402
    BackgroundJob,
    Call,
    Contact,
    ContactTag,
    CustomFieldValue,
    Deal,
    Tag,
    User,
)
from crm.services import accounts  # noqa: E402
from crm.services import custom_fields as fields_service  # noqa: E402
from crm.services.exports import start_export  # noqa: E402
from crm.services.targets import Target  # noqa: E402
from crm.storage.directory import DirectoryStorage  # noqa: E402
from plugins.dispatcher import Dispatcher  # noqa: E402
from plugins.manager import builtin_names, make_plugin_manager  # noqa: E402

PG_DATABASE = "dossier_bench_exports"
SEED_BATCH = 5000
COLUMNS = [
    "firstName",
    "lastName",
    "businessName",
    "email",
    "phone",
    "status",
    "subStatus",
    "assignedTo",
    "tags",
    "city",
    "state",
    "country",
    "createdAt",
    "lastInteraction",
    "dealTotal",
    "customField:tier",
]
CITIES = ("Springfield", "Portland", "Austin", "Denver", "Madison", "Raleigh", "Tucson", "Boise")


def rss_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    """Start the peak-memory count again from the current size (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def seed(contacts: int) -> Actor:
    rng = random.Random(14)
    issued = await accounts.create_account("Bench", "admin@bench.example.com", "Bench Admin")
    account_id = issued.user.account_id  # type: ignore[attr-defined]
    actor = Actor.user(account_id, issued.user.id, "Bench Admin", "admin")
    reps = [
        (await accounts.create_user("Bench", f"Rep {n}", f"rep{n}@bench.example.com", "rep")).user.id
        for n in range(5)
    ]
    field = await fields_service.create_field(actor, label="Tier", key="tier", type=FieldType.TEXT)
    tags = [
        await Tag.create(account_id=account_id, name=name, key=name.lower())
        for name in ("VIP", "Solar", "Roof")
    ]
    made = 0
    while made < contacts:
        size = min(SEED_BATCH, contacts - made)
        await Contact.bulk_create(
            [
                Contact(
                    account_id=account_id,
                    first_name=f"Pat{made + i}",
                    last_name=rng.choice(("Lee", "Garcia", "Smith", "Nguyen", "O'Brien")),
                    business_name="Lee & Co" if i % 7 == 0 else None,
                    email=f"pat{made + i}@example.com",
                    phone=f"+1415{made + i:07d}",
                    street=f"{i} Main St",
                    city=rng.choice(CITIES),
                    state="IL",
                    country="US",
                    status=rng.choice(("lead", "contacted", "customer")),
                    assigned_to_id=rng.choice(reps),
                )
                for i in range(size)
            ],
            batch_size=1000,
        )
        made += size
        ids = list(
            await Contact.filter(account_id=account_id)
            .order_by("-id")
            .limit(size)
            .values_list("id", flat=True)
        )
        await ContactTag.bulk_create(
            [ContactTag(contact_id=c, tag_id=rng.choice(tags).id) for c in ids if c % 3 == 0], batch_size=1000
        )
        await CustomFieldValue.bulk_create(
            [
                CustomFieldValue(field_id=field.id, contact_id=c, **stored({"value_text": f"T{c % 4}"}))
                for c in ids
                if c % 2 == 0
            ],
            batch_size=1000,
        )
        await Deal.bulk_create(
            [
                Deal(
                    contact_id=c,
                    account_id=account_id,
                    product_name="Roof",
                    amount=rng.randrange(100, 9000),
                    currency="USD",
                    payment_type="ONE_TIME",
                    status=rng.choice(("OPEN", "WON", "LOST")),
                )
                for c in ids
                if c % 5 == 0
            ],
            batch_size=1000,
        )
        await Call.bulk_create(
            [
                Call(
                    contact_id=c,
                    event_name="Survey",
                    scheduled_at=issued.user.created_at,
                    duration_minutes=30,
                    direction="OUTBOUND",
                    outcome="CONNECTED",
                )
                for c in ids
                if c % 10 == 0
            ],
            batch_size=1000,
        )
    assert await User.filter(account_id=account_id).count() == 6
    return actor


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> list[dict[str, float]] | None:
    url = await fresh_database(backend, PG_DATABASE, workdir / "exports.db")
    if url is None:
        return None
    await open_database(url)
    store = DirectoryStorage(workdir / f"files-{backend}")
    storage.configure(store)
    results = []
    try:
        actor = await seed(args.contacts)
        dispatcher = Dispatcher(make_plugin_manager(disabled=builtin_names(), load_entry_points=False))
        formats = ("CSV", "XLSX") if args.format == "both" else (args.format.upper(),)
        for fmt in formats:
            before = rss_kb("VmRSS")
            measured = reset_peak()
            started = time.perf_counter()
            job = await start_export(actor, Target(filter={}), COLUMNS, fmt)
            await dispatcher.drain()
            seconds = time.perf_counter() - started
            job = await BackgroundJob.get(id=job.id)
            assert job.status == "DONE" and job.done == args.contacts, (job.status, job.done, job.error)
            results.append(
                {
                    "format": fmt,
                    "rows": job.done,
                    "steps": job.step,
                    "seconds": seconds,
                    "size_mb": (job.file_size or 0) / 1e6,
                    "rss_before_mb": before / 1024,
                    "peak_mb": rss_kb("VmHWM") / 1024 if measured else float("nan"),
                }
            )
        return results
    finally:
        await store.close()
        await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--format", choices=("csv", "xlsx", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            results = asyncio.run(run_backend(backend, args, Path(tmp)))
            for r in results or ():
                print(
                    f"{backend} {r['format']}: {r['rows']:,} rows x {len(COLUMNS)} columns in "
                    f"{r['steps']} steps, {r['seconds']:.1f} s ({r['rows'] / r['seconds']:,.0f} rows/s), "
                    f"file {r['size_mb']:.1f} MB; "
                    f"memory {r['rss_before_mb']:.0f} MB before, peak {r['peak_mb']:.0f} MB during "
                    f"(+{r['peak_mb'] - r['rss_before_mb']:.0f} MB)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
