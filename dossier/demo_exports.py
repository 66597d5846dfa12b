"""The demo's exports (D8): a finished export of the contacts table and a GDPR export of a rich card.

Called by `dossier.demo` after the other sections (the export reads them), in the seed's
transaction: `job(id:)` shows a DONE BulkJob with its CSV to download, the first rich card's
journey ends with CONTACT_EXPORTED and a DONE `export.contact` job holds its ZIP. Both are
written by the same code as exportContacts / exportContact (crm/exports), by the account's
admin; no outbox rows (nothing to tell the plugins about a seed).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from crm.actor import Role
from crm.exports import document as contact_document
from crm.exports.batches import read_batch
from crm.exports.columns import resolve
from crm.exports.formats import ENCODINGS, FileFormat, body, head, wrap
from crm.journey import JourneyKind
from crm.models import BackgroundJob, Contact, JourneyEvent, User
from crm.services.exports import EXPORT_KIND, file_name, record_contact_export
from dossier.demo_attachments import _storage
from dossier.demo_profile import _entry
from dossier.demo_rich import rich_contact_ids

TABLE_ROWS = 10_000  # the demo has far fewer: one batch


async def _table(conn: BaseDBAsyncClient, account_id: int, admin: User, now: datetime) -> None:
    columns = await resolve(account_id, None, conn)
    live = Contact.filter(account_id=account_id, archived_at__isnull=True)
    batch = await read_batch(live, columns, 0, TABLE_ROWS, conn)

    async def pieces() -> AsyncIterator[bytes]:
        yield head(FileFormat.CSV, [c.header for c in columns])
        yield body(FileFormat.CSV, batch.rows, 2)

    name = file_name(FileFormat.CSV, now)
    prefix = f"{account_id}/exports/{secrets.token_hex(12)}"
    stored = await _storage().put(f"{prefix}/{name}", wrap(FileFormat.CSV, pieces()))
    await BackgroundJob.create(
        account_id=account_id,
        kind=EXPORT_KIND,
        status="DONE",
        params={
            "target": {"ids": None, "filter": {}, "segment_id": None, "archived": False},
            "columns": [c.name for c in columns],
            "format": FileFormat.CSV.value,
            "upto_id": batch.last_id,
            "prefix": prefix,
            "file_name": name,
            "actor": {"kind": "USER", "name": admin.name, "user_id": admin.id, "role": admin.role},
        },
        cursor={"after_id": batch.last_id, "rows": len(batch.rows), "parts": []},
        step=1,
        total=len(batch.rows),
        done=len(batch.rows),
        file_key=f"{prefix}/{name}",
        file_name=name,
        file_content_type=ENCODINGS[FileFormat.CSV].content_type,
        file_size=stored.size,
        started_by_id=admin.id,
        created_at=now - timedelta(minutes=3),
        started_at=now - timedelta(minutes=3),
        finished_at=now - timedelta(minutes=2),
        using_db=conn,
    )


async def _one_contact(conn: BaseDBAsyncClient, account_id: int, admin: User, now: datetime) -> None:
    rich = await rich_contact_ids(conn, account_id)
    if not rich:
        return
    contact = await Contact.get(id=rich[0]).using_db(conn)
    read = await contact_document.read(account_id, contact.id, conn)
    name = f"contact-{contact.id}-{now.strftime('%Y%m%d-%H%M%S')}.zip"
    key = f"{account_id}/exports/{secrets.token_hex(12)}/{name}"
    stored = await _storage().put(key, contact_document.zip_stream(read))
    actor = {"kind": "USER", "name": admin.name, "user_id": admin.id, "role": admin.role}
    job = await record_contact_export(
        conn, account_id, contact.id, actor, admin.id, read, (key, name, stored.size), now
    )
    # After the card's last entry: the journey is ordered by id, and this is its newest.
    last = await JourneyEvent.filter(contact_id=contact.id).using_db(conn).order_by("-occurred_at").first()
    at = max(now, last.occurred_at + timedelta(seconds=1)) if last else now
    await _entry(
        conn, contact, admin, at, JourneyKind.CONTACT_EXPORTED,
        f"{admin.name} exported the contact's data (JSON and ZIP with {len(read.files)} files)",
        {}, subject_type="BulkJob", subject_id=job.id,
    )  # fmt: skip


async def seed_exports(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    admin = (
        await User.filter(account_id=account_id, role=Role.ADMIN.value).using_db(conn).order_by("id").first()
    )
    if admin is None:
        return
    await _table(conn, account_id, admin, now)
    await _one_contact(conn, account_id, admin, now)
