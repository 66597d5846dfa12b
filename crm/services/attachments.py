"""Attachments (B8): files on a card, and the storage side of call recordings (B2).

`store_file` streams the upload into storage first -- counting, hashing and sniffing as the
bytes pass, never holding the file in memory -- and only then writes the row, in one
transaction with its journey entry. So a crash leaves at worst an object no row names (the
sweep's job), never a row without its object. A file over the size limit, a program or script,
or a contact of another account leaves nothing behind.

`delete_attachment` deletes the row in its transaction and the object after commit; an object
that could not be deleted then is left for the sweep, like those of deleted contacts
(`attachment_keys` + `discard_objects`, used by crm/services/lifecycle.py).
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import storage
from crm.actor import Actor
from crm.clock import utcnow
from crm.errors import BadInput, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Attachment, BackgroundJob, Call, Contact
from crm.models.attachments import AttachmentKind
from crm.services import _scoped
from crm.sniff import HEAD_BYTES, sniff
from crm.uow import UnitOfWork, unit_of_work

log = logging.getLogger("dossier.attachments")

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
MAX_TITLE = 200
MAX_FILENAME = 255
# An object younger than this is never swept: its upload may still be in flight.
DEFAULT_SWEEP_GRACE = timedelta(hours=1)


@dataclass
class _Limits:
    max_bytes: int = DEFAULT_MAX_BYTES


_limits = _Limits()


def configure(*, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    _limits.max_bytes = max_bytes


def max_bytes() -> int:
    return _limits.max_bytes


def _mb(size: int) -> str:
    return f"{size / 1_000_000:g} MB" if size >= 1_000_000 else f"{size:,} bytes"


def clean_filename(filename: str | None) -> str:
    """The name without any folder, control characters or surrounding blanks; "file" if empty."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > MAX_FILENAME:  # keep the extension: it is part of what the file is
        stem, dot, ext = name.rpartition(".")
        name = (
            (stem[: MAX_FILENAME - len(ext) - 1] + dot + ext)
            if dot and len(ext) < 16
            else name[:MAX_FILENAME]
        )
    return name or "file"


def _clean_title(title: str | None, filename: str) -> str:
    text = " ".join((title or "").split())
    if len(text) > MAX_TITLE:
        raise BadInput(f"title is {len(text)} characters; the limit is {MAX_TITLE}", field="title")
    return text or filename


class _Intake:
    """The upload's bytes on their way to storage: the first HEAD_BYTES are held back until
    the type is known (nothing is written for a refused file), then every chunk is counted
    against the limit. Raising inside the stream makes storage drop the partial object."""

    def __init__(self, source: AsyncIterator[bytes], filename: str, limit: int) -> None:
        self.source = source
        self.filename = filename
        self.limit = limit
        self.size = 0
        self.content_type = "application/octet-stream"

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise BadInput(
                f"the file is over the size limit of {_mb(self.limit)} ({self.limit:,} bytes,"
                " DOSSIER_ATTACHMENT_MAX_BYTES); nothing was stored",
                field="file",
            )

    async def chunks(self) -> AsyncIterator[bytes]:
        head = bytearray()
        async for chunk in self.source:
            if not chunk:
                continue
            self._count(chunk)
            if len(head) < HEAD_BYTES:
                head += chunk
                if len(head) < HEAD_BYTES:
                    continue
                self.content_type = sniff(bytes(head[:HEAD_BYTES]), self.filename)
                yield bytes(head)
                continue
            yield chunk
        if len(head) < HEAD_BYTES:  # the whole file was shorter than the head
            self.content_type = sniff(bytes(head), self.filename)
            yield bytes(head)


def new_key(account_id: int) -> str:
    return f"{account_id}/{secrets.token_hex(16)}"


async def _check_target(actor: Actor, contact_id: int, call_id: int | None) -> None:
    """NOT_FOUND before a byte is read: a cheap read, repeated under lock when the row is written."""
    if not await Contact.filter(id=contact_id, account_id=actor.account_id).exists():
        raise NotFound(f"no contact with id {contact_id} in this account")
    if (
        call_id is not None
        and not await Call.filter(id=call_id, contact__account_id=actor.account_id).exists()
    ):
        raise NotFound(f"no call with id {call_id} in this account")


def subject_of(attachment: Attachment) -> dict[str, object]:
    """The attachment as hooks receive it (`event.subject`)."""
    return {
        "kind": attachment.kind,
        "title": attachment.title,
        "filename": attachment.filename,
        "contentType": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "callId": attachment.call_id,  # type: ignore[attr-defined]
        "durationSeconds": attachment.duration_seconds,
    }


async def store_file(
    actor: Actor,
    *,
    contact_id: int,
    stream: AsyncIterator[bytes],
    filename: str,
    title: str | None,
    declared_type: str | None = None,
    call_id: int | None = None,
    kind: str = "FILE",
    duration_seconds: int | None = None,
    content_type: str | None = None,
    within: Callable[[UnitOfWork, Contact, Attachment], Awaitable[None]] | None = None,
) -> Attachment:
    """Store a file on a contact (or, with `call_id`, on one of its calls) and journal it.

    `declared_type` is what the client said the file is; it is only a hint (the bytes decide),
    kept for the journey's record. Raises BadInput (too big, a program, empty, bad title or
    kind) or NotFound (the contact or call is not in the caller's account); either way
    nothing is stored.

    For call recordings (crm/services/recordings.py): `content_type` is the type the caller
    already established from the whole file (the sniff still refuses programs), and `within`
    runs in the row's transaction instead of the ATTACHMENT_ADDED journal entry (the caller
    journals its own event and replaces the call's earlier recording there, atomically)."""
    try:
        kind_value = AttachmentKind(kind).value
    except ValueError:
        raise BadInput(f"kind must be FILE or RECORDING, got {kind!r}", field="kind") from None
    if duration_seconds is not None and duration_seconds < 0:
        raise BadInput("durationSeconds cannot be negative", field="durationSeconds")
    name = clean_filename(filename)
    clean_title = _clean_title(title, name)
    await _check_target(actor, contact_id, call_id)
    store = storage.current()
    key = new_key(actor.account_id)
    intake = _Intake(stream, name, _limits.max_bytes)
    stored = await store.put(key, intake.chunks())
    try:
        async with unit_of_work(actor) as uow:
            contact = await _scoped.contact(uow, contact_id)
            if call_id is not None:
                call = await _scoped.call(uow, call_id)
                if call.contact_id != contact.id:  # type: ignore[attr-defined]
                    raise BadInput(f"call {call_id} is not a call of contact {contact_id}", field="callId")
            attachment = Attachment(
                account_id=actor.account_id,
                contact_id=contact.id,
                call_id=call_id,
                kind=kind_value,
                title=clean_title,
                filename=name,
                content_type=content_type or intake.content_type,
                size=stored.size,
                sha256=stored.sha256,
                storage_key=key,
                duration_seconds=duration_seconds,
                uploaded_by_id=actor.user_id,
            )
            await attachment.save(using_db=uow.conn)
            if within is not None:
                await within(uow, contact, attachment)
                return attachment
            what = "a recording" if kind_value == AttachmentKind.RECORDING else "a file"
            await uow.record(
                contact,
                JourneyKind.ATTACHMENT_ADDED,
                f"{actor.name} attached {what}: {clean_title} ({name}, {_mb(stored.size)})",
                {"attachment": [None, name]},
                subject_type="Attachment",
                subject_id=attachment.id,
                subject={**subject_of(attachment), "declaredType": declared_type},
            )
    except BaseException:
        await discard_objects([key])  # no row names it: drop it now rather than wait for the sweep
        raise
    return attachment


def _may_delete(actor: Actor, attachment: Attachment) -> None:
    if not actor.is_manager and attachment.uploaded_by_id != actor.user_id:  # type: ignore[attr-defined]
        raise Forbidden("only the file's uploader, a manager or an admin can delete it")


async def delete_attachment(actor: Actor, attachment_id: int) -> Attachment:
    """Delete a file: the row now, the object after commit. Returns the attachment as it was."""
    async with unit_of_work(actor) as uow:
        attachment = await _scoped.attachment(uow, attachment_id)
        _may_delete(actor, attachment)
        contact = await _scoped.contact(uow, attachment.contact_id)  # type: ignore[attr-defined]
        await attachment.delete(using_db=uow.conn)
        await uow.record(
            contact,
            JourneyKind.ATTACHMENT_DELETED,
            f"{actor.name} deleted a file: {attachment.title} ({attachment.filename})",
            {"attachment": [attachment.filename, None]},
            subject_type="Attachment",
            subject_id=attachment.id,
            subject=subject_of(attachment),
        )
    await discard_objects([attachment.storage_key])
    return attachment


# -- objects of rows that go with their contacts ----------------------------------------------


async def attachment_keys(conn: BaseDBAsyncClient, account_id: int, contact_ids: Sequence[int]) -> list[str]:
    """The storage keys of these contacts' files, read inside the transaction that deletes them."""
    keys: list[str] = []
    ids = list(contact_ids)
    for start in range(0, len(ids), 500):
        keys += await (
            Attachment.filter(account_id=account_id, contact_id__in=ids[start : start + 500])
            .using_db(conn)
            .values_list("storage_key", flat=True)
        )
    return keys


async def discard_objects(keys: Iterable[str]) -> None:
    """Delete objects whose rows are gone (call after commit). A failure is logged and left for
    `dossier storage sweep`: the rows are already gone, the request must not fail for it."""
    store = storage.current()
    for key in keys:
        try:
            await store.delete(key)
        except Exception:
            log.warning(
                "could not delete object %s from %s; `dossier storage sweep` will",
                key,
                store.name,
                exc_info=True,
            )


# -- the sweep -------------------------------------------------------------------------------


@dataclass
class SweepReport:
    orphans: list[str]  # objects no row names, older than the grace period: deleted (or would be)
    young: int  # objects no row names yet, younger than the grace period: kept
    missing: list[tuple[int, str]]  # (attachment id, key) of rows whose object is gone
    deleted: int  # orphans actually deleted (0 on a dry run)
    failed: list[str]  # orphans whose deletion failed


async def _job_objects() -> set[str]:
    """Objects jobs name: the files they produced (exports, import reports), and the parts an
    active job has written so far (an export's batches, listed in its cursor as `parts`)."""
    files = await BackgroundJob.filter(file_key__isnull=False).values_list("file_key", flat=True)
    parts: set[str] = set()
    active = BackgroundJob.filter(status__in=("QUEUED", "RUNNING"))
    for cursor in await active.values_list("cursor", flat=True):
        if isinstance(cursor, dict):
            parts.update(key for key in cursor.get("parts") or () if isinstance(key, str))
    return set(files) | parts


async def sweep(
    *, grace: timedelta = DEFAULT_SWEEP_GRACE, dry_run: bool = False, now: datetime | None = None
) -> SweepReport:
    """Delete objects no attachment row or job names (older than `grace`), and report rows whose
    object is missing. The keys are read after the listing, so an upload whose row lands
    meanwhile is known; one still in flight is younger than the grace period."""
    store = storage.current()
    listed_at = utcnow()
    cutoff = (now or listed_at) - grace
    listed = [info async for info in store.list()]
    rows = await Attachment.all().values_list("id", "storage_key", "created_at")
    known = {key for _, key, _ in rows} | await _job_objects()
    present = {info.key for info in listed}
    orphans = sorted(info.key for info in listed if info.key not in known and info.modified <= cutoff)
    young = sum(1 for info in listed if info.key not in known and info.modified > cutoff)
    # A row written before the listing began had its object before then (objects come first).
    missing = sorted((i, key) for i, key, created in rows if key not in present and created < listed_at)
    deleted, failed = 0, []
    if not dry_run:
        for key in orphans:
            try:
                await store.delete(key)
                deleted += 1
            except Exception as exc:
                log.warning("could not delete orphan %s: %s", key, exc)
                failed.append(key)
    return SweepReport(orphans, young, missing, deleted, failed)
