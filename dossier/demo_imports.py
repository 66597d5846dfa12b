"""The demo's import (D7): a finished `importContacts` job of a small spreadsheet.

Called by `dossier.demo` in the seed's transaction, after the cards: a CSV of five rows (three
repeating existing contacts' emails, one in capitals, with a city and a job title they lack; two
bad rows) is read, stored and imported by the same code as importContacts (crm/imports, the
job's own step and report functions), by the account's admin, in CONTACTS mode. So `job(id:)`
shows a DONE BulkJob with its errors and report to download, and the three contacts show
hasNewData with a CONTACT_IMPORTED entry saying what was filled. No contact is added (the
demo's counts stay the cards'), no outbox row (no hook for a seed).
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


def _rows(emails: list[str]) -> list[list[str]]:
    """Rows repeating existing contacts' emails with fields they lack (each merges and marks its
    contact "new data"; the demo's contact count stays what the cards made), and two bad rows."""
    rows = [["First name", "Last name", "E-mail", "Mobile", "City", "Zip code", "Job title"]]
    for n, email in enumerate(emails):
        rows.append(
            ["", "", email.upper() if n == 1 else email, "", CITIES[n % len(CITIES)], "", "Homeowner"]
        )
    rows.append(["Jordan", "Blake", "jordan.blake@", "415-555-0184", "Berkeley", "94704", ""])  # bad email
    rows.append(["", "", "", "", "Palo Alto", "", ""])  # nobody: no name, email or phone
    return rows


CITIES = ("Sausalito", "Oakland", "San Jose")


async def seed_imports(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    admin = (
        await User.filter(account_id=account_id, role=Role.ADMIN.value).using_db(conn).order_by("id").first()
    )
    if admin is None:
        return
    # Existing contacts with an email and no city: the import fills their city and title.
    emails = await (
        Contact.filter(
            account_id=account_id, email__isnull=False, city__isnull=True, archived_at__isnull=True
        )
        .using_db(conn)
        .order_by("id")
        .limit(3)
        .values_list("email", flat=True)
    )
    text = io.StringIO()
    csv.writer(text).writerows(_rows(list(emails)))
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
    if outcome.after_commit is not None:  # the uploaded file, read to its end, is not kept
        await outcome.after_commit()
