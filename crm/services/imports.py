"""Importing contacts (D7): `importContacts`, `previewImport`, `dossier import`, `clearNewData`.

Rules (the README says the same):

- The upload (CSV, .xlsx, legacy .xls, .ods; at most DOSSIER_IMPORT_MAX_BYTES) is read when the
  import starts: a file that cannot be read, has no header, or whose mapping names an unknown
  column or field is BAD_USER_INPUT and nothing is queued. It is stored (as a normalised CSV,
  crm/imports/reading.py) under a key of its own in the attachments storage, where the job's
  batches read it.
- The job (`import.contacts`) reads `batch_size` rows per step, each step one transaction; its
  cursor is the byte offset (and row number) where the next batch starts, so a killed worker
  resumes there and no row is imported twice. cancelJob stops it before its next batch.
- Each row is checked as createContact checks its input (crm/imports/rows.py). A bad row is
  skipped (skippedByReason INVALID) with one job error per column at fault; good rows are
  imported. When the job ends with bad rows, BulkJob.file is a CSV report: the bad rows as they
  were, with their errors.
- CONTACTS mode: a row whose email (case aside) or phone is a contact's merges into it, filling
  its empty fields and never overwriting, and marks it "new data" (Contact.hasNewData, until
  clearNewData). LEADS mode: every row becomes a lead of the contact it matches (made when none
  does, filled when one does); a row with the email and phone of an existing lead is stored as a
  DUPLICATE lead and reported (code DUPLICATE).
- A dry run checks every row and reports what would happen (result: created, merged,
  duplicates) without writing a contact, a lead or a journey entry.
- Each contact made or merged gets a CONTACT_IMPORTED journey entry; the job fires
  `contacts_imported` once, when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import io
import os
import secrets
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import jobs, regions, storage
from crm.account_events import queue_account_event
from crm.actor import Actor, ActorKind
from crm.clock import utcnow
from crm.errors import BadInput, NotFound
from crm.imports import reading, template
from crm.imports.mapping import CUSTOM_PREFIX, ColumnGuess, CustomColumn, guess, resolve
from crm.imports.rows import CleanRow, Problem, Rules, as_cells, check_row, required_missing
from crm.imports.writing import CONTACTS, LEADS, Outcome, Who, keep_statistics, write_batch
from crm.journey import JourneyKind
from crm.models import Account, BackgroundJob, Contact, CustomField, JobError, OutboxRow
from crm.services import _scoped, custom_fields
from crm.services.attachments import clean_filename
from crm.uow import unit_of_work

IMPORT_KIND = "import.contacts"
IMPORTED_HOOK = "contacts_imported"
MODES = (LEADS, CONTACTS)
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
# Rows per step: the checks and a few multi-row statements cost ~1 ms per 100 rows, so a step
# of 1,000 is a short transaction and 100,000 rows take 100 steps.
BATCH_SIZE = 1000
# Bytes read from storage per step: 1,000 rows of a wide file fit; a batch that needs more
# asks again with twice as much.
READ_BYTES = 1 << 20
MAX_MAPPING = 200
# A step's rows are checked and written in parts of this many, the writing of one part overlapping
# the checking of the next (the checking task yields every YIELD_ROWS rows).
PART_ROWS = 250
YIELD_ROWS = 20


@dataclass
class _Limits:
    max_bytes: int = DEFAULT_MAX_BYTES


_limits = _Limits()


def configure(*, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """DOSSIER_IMPORT_MAX_BYTES: the largest file importContacts takes."""
    _limits.max_bytes = max_bytes


@dataclass
class Preview:
    """What previewImport answers: the columns with their guessed fields, a few rows."""

    filename: str
    format: str
    sheet: str | None
    rows: int
    columns: list[ColumnGuess]
    sample: list[list[str]]


async def _custom_columns(account_id: int) -> tuple[list[CustomColumn], dict[str, CustomField]]:
    live = await custom_fields.list_fields(account_id)
    return [CustomColumn(f.key, f.label) for f in live], {f.key: f for f in live}


async def _spool(stream: AsyncIterator[bytes], target: Path) -> int:
    """The upload to a local file (calamine reads files), refused past the size limit."""
    size = 0
    with open(target, "wb") as out:
        async for chunk in stream:
            size += len(chunk)
            if size > _limits.max_bytes:
                raise BadInput(
                    f"the file is over the import limit of {_limits.max_bytes:,} bytes "
                    "(DOSSIER_IMPORT_MAX_BYTES); split it or raise the limit",
                    field="file",
                )
            out.write(chunk)
    if size == 0:
        raise BadInput("the file is empty", field="file")
    return size


async def _read(stream: AsyncIterator[bytes], filename: str, folder: Path) -> tuple[reading.Normalised, Path]:
    source, target = folder / "upload", folder / "normalised.csv"
    await _spool(stream, source)
    found = await asyncio.to_thread(reading.normalise, source, filename, target)
    return found, target


async def preview(actor: Actor, stream: AsyncIterator[bytes], filename: str | None) -> Preview:
    """The file's columns, the field each would fill, suggestions for the others, a few rows."""
    name = clean_filename(filename)
    custom, _ = await _custom_columns(actor.account_id)
    with tempfile.TemporaryDirectory(prefix="dossier-import-") as folder:
        found, _ = await _read(stream, name, Path(folder))
    return Preview(name, found.format, found.sheet, found.rows, guess(found.header, custom), found.sample)


def _clean_mode(mode: str) -> str:
    if mode not in MODES:
        raise BadInput(f"mode must be LEADS or CONTACTS, got {mode!r}", field="mode")
    return mode


def _clean_mapping(mapping: Mapping[str, str | None] | None) -> dict[str, str | None] | None:
    if mapping is None:
        return None
    if len(mapping) > MAX_MAPPING:
        raise BadInput(f"{len(mapping)} columns mapped; at most {MAX_MAPPING}", field="mapping")
    return dict(mapping)


def _who(actor: Actor) -> dict[str, Any]:
    return {"kind": actor.kind.value, "name": actor.name, "user_id": actor.user_id}


async def start_import(
    actor: Actor,
    *,
    stream: AsyncIterator[bytes],
    filename: str | None,
    mode: str = CONTACTS,
    mapping: Mapping[str, str | None] | None = None,
    dry_run: bool = False,
) -> BackgroundJob:
    """Read and store the file, check the mapping, queue the job (see the module's rules)."""
    mode = _clean_mode(mode)
    explicit = _clean_mapping(mapping)
    name = clean_filename(filename)
    custom, live = await _custom_columns(actor.account_id)
    store = storage.current()
    key = f"{actor.account_id}/import-{secrets.token_hex(16)}.csv"
    with tempfile.TemporaryDirectory(prefix="dossier-import-") as folder:
        found, normalised = await _read(stream, name, Path(folder))
        chosen = resolve(found.header, explicit, custom)
        missing = required_missing(live, chosen)
        if missing:
            raise BadInput(
                f"the required custom field(s) {', '.join(missing)} have no default and no column: "
                f"add a column for each (customField:<key>) or map one to it",
                field="mapping",
            )
        size = normalised.stat().st_size
        with open(normalised, "rb") as f:
            first = reading.header_length(f.read(64 * 1024 + 256 * 200))

        async def chunks() -> AsyncIterator[bytes]:
            with open(normalised, "rb") as f:
                while chunk := f.read(storage.CHUNK):
                    yield chunk

        await store.put(key, chunks())
    params = {
        "key": key,
        "size": size,
        "first": first,
        "filename": name,
        "format": found.format,
        "sheet": found.sheet,
        "header": found.header,
        "mapping": chosen,
        "mode": mode,
        "actor": _who(actor),
    }
    try:
        async with unit_of_work(actor) as uow:
            job = await jobs.enqueue(
                uow.conn, actor, IMPORT_KIND, params, total=found.rows, cursor=_cursor(key, first, 1)
            )
            if dry_run:
                job.dry_run = True
                await BackgroundJob.filter(id=job.id).using_db(uow.conn).update(dry_run=True)
    except BaseException:
        await store.delete(key)
        raise
    jobs.queued()
    return job


def _cursor(key: str, offset: int, row: int) -> dict[str, Any]:
    """Where the next batch starts: a byte offset in the stored file, and the last row read.
    `parts` names the stored file so `dossier storage sweep` keeps it while the job runs."""
    return {"offset": offset, "row": row, "parts": [key]}


async def _rules(conn: BaseDBAsyncClient, job: BackgroundJob) -> Rules:
    account = await Account.get(id=job.account_id).using_db(conn)  # type: ignore[attr-defined]
    fields = await CustomField.filter(account_id=job.account_id, archived_at__isnull=True).using_db(conn)
    live = {f.key: f for f in fields}
    mapping: dict[str, str] = job.params["mapping"]
    for target in mapping.values():
        if target.startswith(CUSTOM_PREFIX) and target.removeprefix(CUSTOM_PREFIX) not in live:
            raise jobs.JobFailed(
                f"the custom field {target.removeprefix(CUSTOM_PREFIX)!r} was archived; the import stopped"
            )
    ctx = await custom_fields.context(job.account_id)  # type: ignore[attr-defined]
    region = await regions.phone_region(job.account_id)  # type: ignore[attr-defined]
    return Rules(account, region, ctx, live, mapping)


async def _read_batch(key: str, size: int, offset: int, limit: int) -> reading.Batch:
    store = storage.current()
    budget = READ_BYTES
    while True:
        end = min(size, offset + budget) - 1
        data = (
            b"".join([chunk async for chunk in await store.open(key, offset, end)]) if offset < size else b""
        )
        at_eof = end >= size - 1
        batch = reading.read_batch(data, offset, limit, at_eof)
        if batch.rows or at_eof:
            return batch
        budget *= 2  # one row longer than the budget: read more


async def _step(job: BackgroundJob, conn: BaseDBAsyncClient, size: int) -> jobs.StepOutcome:
    params, cursor = job.params, job.cursor
    offset = int(cursor["offset"])
    batch = await _read_batch(params["key"], int(params["size"]), offset, size)
    rules = await _rules(conn, job)
    header = params["header"]
    who = params["actor"]
    await keep_statistics(conn, int((job.result or {}).get("created", 0)))
    write = functools.partial(
        write_batch,
        conn,
        job_id=job.id,
        account_id=job.account_id,  # type: ignore[attr-defined]
        status=rules.account.statuses[0]["name"],
        mode=params["mode"],
        source=params["filename"],
        who=Who(who["kind"], who["name"], who["user_id"]),
        dry_run=job.dry_run,
        now=utcnow(),
    )
    # The batch in parts, pipelined: the database writes one part (its own process, the other
    # core) while this process checks the next, yielding to the writing task every few rows.
    total = Outcome()
    bad: list[tuple[int, Problem]] = []
    imported = 0
    writing: asyncio.Future[Outcome] | None = None
    try:
        for start in range(0, len(batch.rows), PART_ROWS):
            good: list[CleanRow] = []
            part_bad: list[tuple[int, Problem]] = []
            for n, (number, values) in enumerate(batch.rows[start : start + PART_ROWS], 1):
                checked = check_row(rules, number, as_cells(header, values))
                if isinstance(checked, CleanRow):
                    good.append(checked)
                else:
                    part_bad += [(number, problem) for problem in checked]
                if writing is not None and n % YIELD_ROWS == 0:
                    await asyncio.sleep(0)
            if writing is not None:
                total.add(await writing)
            bad += part_bad
            imported += len(good)
            writing = asyncio.ensure_future(write(rows=good, problems=part_bad))
        if writing is not None:
            total.add(await writing)
            writing = None
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing
    outcome = total
    await jobs.record_errors(
        conn,
        job,
        [
            jobs.JobErrorRow(code, message, row, contact, column)
            for row, contact, column, code, message in outcome.errors
        ],
    )
    invalid = len({number for number, _ in bad})
    result = dict(job.result or {})
    for name, count in (
        ("created", outcome.created),
        ("merged", outcome.merged),
        ("duplicates", outcome.duplicates),
        ("invalid", invalid),
    ):
        result[name] = result.get(name, 0) + count
    job.result = result
    jobs.add_counts(job, "skipped", {"INVALID": invalid})
    last = batch.rows[-1][0] if batch.rows else int(cursor.get("row", 1))
    return jobs.StepOutcome(
        cursor=_cursor(params["key"], batch.next_offset, last),
        done=imported,
        skipped=invalid,
        finished=batch.at_end,
        # The uploaded file is read to its end: once that is committed nothing needs it again (a
        # cancelled or failed import's file is left to `dossier storage sweep`).
        after_commit=partial(storage.current().delete, params["key"]) if batch.at_end else None,
    )


async def _report(job: BackgroundJob, conn: BaseDBAsyncClient) -> None:
    """The bad rows as they were, each with its errors: BulkJob.file."""
    problems: dict[int, list[str]] = defaultdict(list)
    for row, column, code, message in (
        await JobError.filter(job_id=job.id)
        .using_db(conn)
        .order_by("id")
        .values_list("row", "column", "code", "message")
    ):
        problems[row].append(
            f"{column}: {message}" if column else message if code == "INVALID" else f"{code}: {message}"
        )
    if not problems:
        return
    params = job.params
    store = storage.current()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["row", "errors", *params["header"]])
    offset, size = int(params["first"]), int(params["size"])
    while offset < size:
        batch = await _read_batch(params["key"], size, offset, 5000)
        for number, values in batch.rows:
            if number in problems:
                writer.writerow([number, "; ".join(problems[number]), *values])
        if batch.next_offset <= offset:
            break
        offset = batch.next_offset
    data = buffer.getvalue().encode("utf-8")
    key = f"{job.account_id}/import-report-{secrets.token_hex(16)}.csv"  # type: ignore[attr-defined]

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await store.put(key, chunks())
    stem = os.path.splitext(params["filename"])[0] or "import"
    await jobs.set_file(conn, job, key, f"{stem}-report.csv", "text/csv", len(data))


async def _finish(job: BackgroundJob, conn: BaseDBAsyncClient) -> None:
    await _report(job, conn)
    params, who = job.params, job.params["actor"]
    actor = Actor(job.account_id, ActorKind(who["kind"]), who["name"], who["user_id"])  # type: ignore[attr-defined]
    result = job.result or {}
    if job.dry_run:
        return
    await queue_account_event(
        conn,
        actor,
        IMPORTED_HOOK,
        f"{who['name']} imported {params['filename']}: {result.get('created', 0)} created, "
        f"{result.get('merged', 0)} merged, {job.skipped} rows skipped",
        subject_type="BulkJob",
        subject_id=job.id,
        subject={
            "jobId": job.id,
            "filename": params["filename"],
            "mode": params["mode"],
            "created": result.get("created", 0),
            "merged": result.get("merged", 0),
            "duplicates": result.get("duplicates", 0),
            "invalid": result.get("invalid", 0),
        },
    )


jobs.register(IMPORT_KIND, _step, _finish, batch_size=BATCH_SIZE)


# -- the "new data" mark ----------------------------------------------------------------------


async def clear_new_data(actor: Actor, contact_id: int) -> Contact:
    """Someone has seen what an import merged into the contact: the mark goes (journaled)."""
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        if contact.new_data_at is None:
            return contact
        before = contact.new_data_at
        contact.new_data_at = None
        await Contact.filter(id=contact.id).using_db(uow.conn).update(new_data_at=None)
        await uow.record(
            contact,
            JourneyKind.CONTACT_UPDATED,
            f"{actor.name} cleared the new-data mark",
            {"newDataAt": [before.isoformat(), None]},
        )
    return contact


async def job_of(actor: Actor, job_id: int) -> BackgroundJob:
    job = await BackgroundJob.filter(id=job_id, account_id=actor.account_id, kind=IMPORT_KIND).first()
    if job is None:
        raise NotFound(f"no import job with id {job_id} in this account")
    return job


# -- the template ----------------------------------------------------------------------------


@dataclass
class TemplateInfo:
    name: str
    content_type: str
    sheet_name: str
    columns: list[str]


def _format(format_: str) -> str:
    if format_ not in template.FORMATS:
        raise BadInput(
            f"format must be one of {', '.join(template.FORMATS)}, got {format_!r}", field="format"
        )
    return format_


async def template_columns(account_id: int, format_: str) -> TemplateInfo:
    """What importTemplate says of the template without building it."""
    content_type, extension = template.FORMATS[_format(format_)]
    custom, _ = await _custom_columns(account_id)
    return TemplateInfo(
        f"contacts-import-template.{extension}", content_type, reading.SHEET_NAME, template.columns(custom)
    )


async def template_file(account_id: int, format_: str) -> tuple[bytes, str, str]:
    """The template itself: (bytes, file name, content type)."""
    custom, _ = await _custom_columns(account_id)
    return await template.build(_format(format_), custom)


# -- running a job in this process (`dossier import`, bench/imports.py) ------------------------


async def run_here(job_id: int, progress: Callable[[BackgroundJob], None] | None = None) -> BackgroundJob:
    """Run the job's steps in this process, one after the other, as a worker would (the same
    `crm.jobs.run_step`: one transaction per batch, the same cursor). Each step also queues its
    successor's outbox row for the worker; those are marked delivered at the end. A worker that
    takes one meanwhile finds its step already run and does nothing, so both may run at once."""
    while True:
        job = await BackgroundJob.get(id=job_id)
        if progress is not None:
            progress(job)
        if job.status not in jobs.ACTIVE:
            break
        await jobs.run_step({"job_id": job.id, "step": job.step})
    stale = [
        row["id"]
        for row in await OutboxRow.filter(
            account_id=job.account_id,  # type: ignore[attr-defined]
            plugin=jobs.JOB_PLUGIN,
            hook=jobs.JOB_HOOK,
            status="PENDING",
        ).values("id", "payload")
        if row["payload"].get("job_id") == job.id
    ]
    if stale:
        await OutboxRow.filter(id__in=stale).update(status="DELIVERED", delivered_at=utcnow())
    return job
