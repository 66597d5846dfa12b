"""Bulk actions' dry runs at a million contacts: how long `bulkAction(dryRun: true)` counts take.

    python bench/bulk_dry_run.py [--database dossier_scale] [--repeat 5]

Reads the database `bench/seed_scale.py` (or `bench/filters.py`) seeded, read-only: it runs the
dry run's counting (crm.services.bulk.skip_conditions + count_skips, the SQL a dry run runs)
for a few actions and targets over the largest account, and prints the median time of each and
how many contacts it would change and skip by reason. It keeps no job row (the mutation would
add one). Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.actor import Actor
from crm.db import close_database, open_database
from crm.models import Contact, User
from crm.services import bulk
from crm.services.bulk import BulkAction
from crm.services.targets import Target, target_contacts

PG_SERVER = os.environ.get("DOSSIER_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
CASES: list[tuple[str, BulkAction, dict[str, Any] | None, dict[str, Any]]] = [
    ("SMS to every live contact", BulkAction.SEND_SMS, {}, {"body": "Spring sale"}),
    ("marketing email to leads", BulkAction.SEND_EMAIL, {"status": {"in": ["lead", "contacted"]}},
     {"subject": "Hi", "body": "Offer", "marketing": True}),
    ("tag every live contact", BulkAction.ADD_TAG, {}, {"tag": "VIP"}),
    ("status of contacts created in the last 30 days", BulkAction.SET_STATUS,
     {"createdAt": {"within": "LAST_30_DAYS"}}, {"status": "customer", "subStatus": None}),
    ("archive contacts without a phone", BulkAction.ARCHIVE, {"phone": {"isNull": True}}, {}),
]  # fmt: skip


async def main(database: str, repeat: int) -> None:
    await open_database(f"{PG_SERVER}/{database}", run_migrations=False)
    try:
        account_id = await _largest_account()
        admin = await User.filter(account_id=account_id).order_by("id").first()
        assert admin is not None
        actor = Actor.user(account_id, admin.id, admin.name, "admin")
        print(f"account {account_id}: {await Contact.filter(account_id=account_id).count():,} contacts")
        for label, action, spec, params in CASES:
            target = Target(filter=spec, archived=bulk.archived_scope(action))
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                contacts = await target_contacts(actor, target)
                rules = await bulk.skip_conditions(actor, action, params, True)
                total, skipped = await bulk.count_skips(contacts, rules)
                times.append((time.perf_counter() - started) * 1000)
            left = sum(skipped.values())
            print(
                f"{label:<48} p50 {statistics.median(times):7.1f} ms  total {total:>9,}  "
                f"change {total - left:>9,}  skip {skipped}"
            )
    finally:
        await close_database()


async def _largest_account() -> int:
    from tortoise import connections

    rows = await connections.get("default").execute_query_dict(
        "SELECT account_id, COUNT(*) AS n FROM contact GROUP BY account_id ORDER BY n DESC LIMIT 1"
    )
    return int(rows[0]["account_id"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="dossier_scale")
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.database, arguments.repeat))
