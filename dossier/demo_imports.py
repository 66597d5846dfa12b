"""The demo's import (D7): a finished `importContacts` job of a small spreadsheet export.

Called by `dossier.demo` in the seed's transaction, after the cards: a CSV of six rows (three
new people, one row repeating an existing contact's email with a city and phone to fill, two bad
rows) is read, stored and imported by the same code as importContacts (crm/imports, the job's
own step and report functions), by the account's admin, in CONTACTS mode. So `job(id:)` shows a
DONE BulkJob with its errors and report to download, the matched contact shows hasNewData, and
the new contacts' journeys start with CONTACT_IMPORTED. No outbox rows (no hook for a seed).
"""

from __future__ import annotations

import csv
import io
import secrets
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.actor import Role
from crm.imports import reading
from crm.imports.mapping import resolve
from crm.models import BackgroundJob, Contact, User
from crm.services import imports
from dossier.demo_attachments import _storage

FILE_NAME = "trade-show-leads.csv"


def _rows(existing_email: str | None) -> list[list[str]]:
    rows = [
        ["First name", "Last name", "Company", "E-mail", "Mobile", "City", "Zip code"],
        ["Priya", "Raman", "Raman Solar", "priya.raman@example.com", "(415) 555-0181", "Oakland", "94607"],
        ["Tomás", "Herrera", "", "tomas.herrera@example.com", "+1 415 555 0182", "San Jose", "95113"],
        ["Mei", "Lin", "Lin Roofing", "mei@linroofing.example.com", "", "Fremont", "94536"],
        ["Jordan", "Blake", "", "jordan.blake@", "415-555-0184", "Berkeley", "94704"],  # bad email
        ["", "", "", "", "", "Palo Alto", ""],  # nobody: no name, email or phone
    ]
    if existing_email:
        rows.insert(2, ["", "", "", existing_email, "(415) 555-0189", "Sausalito", "94965"])
    return rows


async def seed_imports(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    admin = (
        await User.filter(account_id=account_id, role=Role.ADMIN.value).using_db(conn).order_by("id").first()
    )
    if admin is None:
        return
    # An existing contact with an email and no city: the import fills its city and marks it.
    target = (
        await Contact.filter(
            account_id=account_id, email__isnull=False, city__isnull=True, archived_at__isnull=True
        )
        .using_db(conn)
        .order_by("id")
        .first()
    )
    text = io.StringIO()
    csv.writer(text).writerows(_rows(target.email if target else None))
    store = _storage()
    key = f"{account_id}/import-{secrets.token_hex(16)}.csv"
    with tempfile.TemporaryDirectory(prefix="dossier-demo-import-") as folder:
        source, normalised = Path(folder) / "upload", Path(folder) / "normalised.csv"
        source.write_text(text.getvalue(), encoding="utf-8")
        found = reading.normalise(source, FILE_NAME, normalised)
        data = normalised.read_bytes()

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await store.put(key, chunks())
    job = await BackgroundJob.create(
        account_id=account_id,
        kind=imports.IMPORT_KIND,
        status="RUNNING",
        params={
            "key": key,
            "size": len(data),
            "first": reading.header_length(data),
            "filename": FILE_NAME,
            "format": found.format,
            "sheet": None,
            "header": found.header,
            "mapping": resolve(found.header, None, []),
            "mode": "CONTACTS",
            "actor": {"kind": "USER", "name": admin.name, "user_id": admin.id},
        },
        cursor=imports._cursor(key, reading.header_length(data), 1),
        total=found.rows,
        started_by_id=admin.id,
        created_at=now - timedelta(minutes=6),
        started_at=now - timedelta(minutes=6),
        using_db=conn,
    )
    while True:  # the job's own steps, in this transaction
        outcome = await imports._step(job, conn, imports.BATCH_SIZE)
        job.cursor, job.step = outcome.cursor, job.step + 1
        job.done += outcome.done
        job.skipped += outcome.skipped
        if outcome.finished:
            break
    await imports._report(job, conn)
    job.status, job.finished_at = "DONE", now - timedelta(minutes=5)
    await job.save(using_db=conn)
