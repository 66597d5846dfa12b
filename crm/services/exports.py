"""Exports (D8): the contacts table as CSV or XLSX, and one contact's data (a GDPR access request).

**The table** (`exportContacts`, bulkAction EXPORT, `dossier export`) is a job of kind
`export.contacts` (crm/jobs.py). Each step reads one batch of the target's contacts (keyset over
id, sections joined in per batch: crm/exports/batches.py), renders it in the file's format and
stores the rendered piece as an object of its own (a *part*; the parts' keys are the cursor), so
every step is a short transaction and the job's progress moves batch by batch. The last step
streams the parts, in order, into the file (crm/exports/formats.py), records it as the job's file
and removes the parts. Storage writes are atomic (an object appears whole or not at all) and the
job points at its file only in the step that commits it: a crashed worker leaves no half file
as the result, only parts the next attempt rewrites (same keys) or the storage sweep removes.
The contacts are those the target matched when queued, up to the highest id then: the total is
known at once and contacts created meanwhile do not stretch it. Reading changes no card, so an
export is not journaled per contact; the hook `contacts_exported` fires once when the file is
ready.

**One contact** (`exportContact`) is read whole through the ORM (crm/exports/document.py): a
JSON document of every section, and a ZIP of that document, a README and the card's files. The
ZIP is stored as the file of a finished job of kind `export.contact` (so it is downloaded through
the same signed job-file links, and the account keeps a record of who exported whom), the
contact's journey gets CONTACT_EXPORTED and the hook `contact_exported` fires.

Both are for admins and managers: they take personal data out of the system in bulk, like
deletes and merges, which reps cannot do either (FORBIDDEN).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import file_links, jobs, storage
from crm.account_events import queue_account_event
from crm.actor import Actor, ActorKind, Role
from crm.clock import utcnow
from crm.errors import BadInput, Forbidden, NotFound
from crm.exports import document as contact_document
from crm.exports import formats
from crm.exports.batches import read_batch
from crm.exports.columns import resolve
from crm.exports.formats import ENCODINGS, FileFormat, body, head, wrap
from crm.journey import JourneyKind
from crm.models import BackgroundJob, Contact
from crm.services.targets import Target, contacts_of, target_contacts
from crm.storage import ObjectMissing
from crm.uow import unit_of_work

log = logging.getLogger("dossier.exports")

EXPORT_KIND = "export.contacts"
CONTACT_EXPORT_KIND = "export.contact"
EXPORTED_HOOK = "contacts_exported"
# Rows per step: a batch's sections are a handful of statements, so big batches are cheap; the
# transaction stays short (well under a second) all the same.
BATCH_SIZE = 5000


def _may_export(actor: Actor, what: str) -> None:
    if actor.kind is ActorKind.USER and actor.role not in (Role.ADMIN, Role.MANAGER):
        raise Forbidden(f"only admins and managers can {what}")


def _actor_params(actor: Actor) -> dict[str, Any]:
    return {"kind": actor.kind.value, "name": actor.name, "user_id": actor.user_id,
            "role": actor.role.value if actor.role else None}  # fmt: skip


def _actor_of(job: BackgroundJob) -> Actor:
    who = job.params["actor"]
    role = Role(who["role"]) if who.get("role") else None
    return Actor(job.account_id, ActorKind(who["kind"]), who["name"], who["user_id"], role)  # type: ignore[attr-defined]


def file_name(fmt: FileFormat, when: Any = None) -> str:
    return f"contacts-{(when or utcnow()).strftime('%Y%m%d-%H%M%S')}.{ENCODINGS[fmt].extension}"


# -- the table: a job --------------------------------------------------------------------------


async def start_export(
    actor: Actor, target: Target, columns: list[str] | None, file_format: str
) -> BackgroundJob:
    """Queue an export of the target's contacts (admins and managers). BAD_USER_INPUT for an
    unknown format or column, NOT_FOUND for another account's ids or segment."""
    _may_export(actor, "export contacts")
    fmt = formats.file_format(file_format)
    chosen = await resolve(actor.account_id, columns)
    contacts = await target_contacts(actor, target)
    async with unit_of_work(actor) as uow:
        scoped = contacts.using_db(uow.conn)
        top = next(iter(await scoped.order_by("-id").limit(1).values_list("id", flat=True)), 0)
        total = await scoped.count()
        params = {
            "target": target.to_json(),
            "columns": [c.name for c in chosen],
            "format": fmt.value,
            "upto_id": top,
            "prefix": f"{actor.account_id}/exports/{secrets.token_hex(12)}",
            "file_name": file_name(fmt),
            "actor": _actor_params(actor),
        }
        job = await jobs.enqueue(
            uow.conn, actor, EXPORT_KIND, params, total=total, cursor={"after_id": 0, "rows": 0, "parts": []}
        )
    jobs.queued()
    return job


async def _pieces(keys: list[str]) -> AsyncIterator[bytes]:
    store = storage.current()
    for key in keys:
        async for chunk in await store.open(key):
            yield chunk


async def _discard(keys: list[str]) -> None:
    store = storage.current()
    for key in keys:
        try:
            await store.delete(key)
        except Exception:  # the sweep removes what is left
            log.warning("could not delete export part %s; `dossier storage sweep` will", key)


async def _export_step(job: BackgroundJob, conn: BaseDBAsyncClient, size: int) -> jobs.StepOutcome:
    params, cursor = job.params, job.cursor
    fmt = FileFormat(params["format"])
    try:
        chosen = await resolve(job.account_id, params["columns"], conn)  # type: ignore[attr-defined]
        contacts = await contacts_of(job.account_id, Target.from_json(params["target"]))  # type: ignore[attr-defined]
    except BadInput as exc:  # a custom field archived, a segment deleted meanwhile
        raise jobs.JobFailed(f"the export cannot go on: {exc.message}") from None
    contacts = contacts.filter(id__lte=params["upto_id"])
    after, written, parts = int(cursor["after_id"]), int(cursor["rows"]), list(cursor["parts"])
    batch = await read_batch(contacts, chosen, after, size, conn)
    store = storage.current()
    if batch.rows or not parts:
        piece = body(fmt, batch.rows, written + 2)
        if not parts:
            piece = head(fmt, [c.header for c in chosen]) + piece
        # Named by position: a step run again after a rollback rewrites the same part.
        key = f"{params['prefix']}/part-{len(parts):06d}"
        await store.put(key, _one(piece))
        parts.append(key)
    cursor = {"after_id": batch.last_id, "rows": written + len(batch.rows), "parts": parts}
    if len(batch.rows) == size:
        return jobs.StepOutcome(cursor=cursor, done=len(batch.rows))
    name = params["file_name"]
    key = f"{params['prefix']}/{name}"
    try:
        size = (await store.put(key, wrap(fmt, _pieces(parts)))).size
    except ObjectMissing:
        # This step ran before and removed the parts, but its commit failed: the file it wrote
        # then is whole (objects appear whole or not at all) and is the same file.
        if not await store.exists(key):
            raise
        size = sum([len(chunk) async for chunk in await store.open(key)])
    await jobs.set_file(conn, job, key, name, ENCODINGS[fmt].content_type, size)
    await _discard(parts)
    return jobs.StepOutcome(cursor={**cursor, "parts": []}, done=len(batch.rows), finished=True)


async def _one(piece: bytes) -> AsyncIterator[bytes]:
    yield piece


async def _export_finished(job: BackgroundJob, conn: BaseDBAsyncClient) -> None:
    params = job.params
    rows = job.cursor.get("rows", job.done)
    await queue_account_event(
        conn,
        _actor_of(job),
        EXPORTED_HOOK,
        f"{params['actor']['name']} exported {rows} contacts ({params['format']})",
        subject_type="BulkJob",
        subject_id=job.id,
        subject={
            "jobId": job.id,
            "format": params["format"],
            "rows": rows,
            "columns": params["columns"],
            "fileName": job.file_name,
            "size": job.file_size,
        },
    )


jobs.register(EXPORT_KIND, _export_step, _export_finished, batch_size=BATCH_SIZE)


# -- the table: straight to a file (the CLI) ---------------------------------------------------


async def export_to_file(
    actor: Actor,
    target: Target,
    columns: list[str] | None,
    file_format: str,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Write the export to `out` in this process (`dossier export`): the same columns, batches
    and formats as the job. Written beside `out` and renamed over it at the end, so a failed
    export leaves no half file. Fires contacts_exported; returns the number of rows."""
    _may_export(actor, "export contacts")
    fmt = formats.file_format(file_format)
    chosen = await resolve(actor.account_id, columns)
    contacts = await target_contacts(actor, target)
    top = next(iter(await contacts.order_by("-id").limit(1).values_list("id", flat=True)), 0)
    contacts = contacts.filter(id__lte=top)
    total = await contacts.count()
    written = 0

    async def pieces() -> AsyncIterator[bytes]:
        nonlocal written
        yield head(fmt, [c.header for c in chosen])
        after = 0
        while True:
            batch = await read_batch(contacts, chosen, after, batch_size, None)
            if batch.rows:
                yield body(fmt, batch.rows, written + 2)
            written += len(batch.rows)
            after = batch.last_id
            if progress is not None:
                progress(written, total)
            if len(batch.rows) < batch_size:
                return

    temporary = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
    try:
        with temporary.open("wb") as handle:
            async for chunk in wrap(fmt, pieces()):
                handle.write(chunk)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    async with unit_of_work(actor) as uow:
        sent = await queue_account_event(
            uow.conn,
            actor,
            EXPORTED_HOOK,
            f"{actor.name} exported {written} contacts ({fmt.value}) with the CLI",
            subject_type="Account",
            subject_id=actor.account_id,
            subject={  # the job's subject, without a job
                "jobId": None,
                "format": fmt.value,
                "rows": written,
                "columns": [c.name for c in chosen],
                "fileName": out.name,
                "size": out.stat().st_size,
            },
        )
        uow.outbox_written(sent)
    return written


# -- one contact: the GDPR access request ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContactExport:
    document: dict[str, Any]  # with each file's signed downloadUrl
    job: BackgroundJob  # DONE; its file is the ZIP


async def record_contact_export(
    conn: BaseDBAsyncClient,
    account_id: int,
    contact_id: int,
    actor_params: dict[str, Any],
    user_id: int | None,
    read: contact_document.ContactData,
    file: tuple[str, str, int],
    at: datetime,
) -> BackgroundJob:
    """The DONE job that keeps a one-contact export's ZIP and says who exported whom (exportContact
    and the demo). `file`: the stored ZIP's key, name and size."""
    key, name, size = file
    return await BackgroundJob.create(
        account_id=account_id,
        kind=CONTACT_EXPORT_KIND,
        status=jobs.DONE,
        params={"contactId": contact_id, "actor": actor_params},
        total=1,
        done=1,
        step=1,
        result={"sections": {k: len(v) for k, v in read.document.items() if isinstance(v, list)}},
        file_key=key,
        file_name=name,
        file_content_type=contact_document.ZIP_TYPE,
        file_size=size,
        started_by_id=user_id,
        started_at=at,
        finished_at=at,
        using_db=conn,
    )


async def export_contact(actor: Actor, contact_id: int, *, base_url: str, expires_in: int) -> ContactExport:
    """Everything tied to one contact, as a document and a stored ZIP (admins and managers)."""
    _may_export(actor, "export a contact's data")
    if not 1 <= expires_in <= file_links.MAX_EXPIRES_IN:
        raise BadInput(
            f"expiresIn must be between 1 and {file_links.MAX_EXPIRES_IN} seconds, got {expires_in}",
            field="expiresIn",
        )
    contact = await Contact.filter(id=contact_id, account_id=actor.account_id).first()
    if contact is None:
        raise NotFound(f"no Contact with id {contact_id} in this account")
    read = await contact_document.read(actor.account_id, contact_id)
    name = f"contact-{contact_id}-{utcnow().strftime('%Y%m%d-%H%M%S')}.zip"
    key = f"{actor.account_id}/exports/{secrets.token_hex(12)}/{name}"
    stored = await storage.current().put(key, contact_document.zip_stream(read))
    try:
        async with unit_of_work(actor) as uow:
            job = await record_contact_export(
                uow.conn,
                actor.account_id,
                contact_id,
                _actor_params(actor),
                actor.user_id,
                read,
                (key, name, stored.size),
                utcnow(),
            )
            await uow.record(
                contact,
                JourneyKind.CONTACT_EXPORTED,
                f"{actor.name} exported the contact's data (JSON and ZIP with {len(read.files)} files)",
                subject_type="BulkJob",
                subject_id=job.id,
                subject={"jobId": job.id, "fileName": name, "size": stored.size, "files": len(read.files)},
            )
    except BaseException:
        await _discard([key])
        raise
    return ContactExport(contact_document.with_links(read, actor.account_id, base_url, expires_in), job)
