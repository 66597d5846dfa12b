"""Background jobs: long work run by the outbox dispatcher in batches, resumable, never applied twice.

A job (`crm.models.BackgroundJob`) is queued with the first step's outbox row (hook `job_step`,
plugin `dossier.jobs`: not a partner hook, plugins/dispatcher.py routes these rows here). Each
step runs in ONE transaction that

1. locks the job and checks it still expects this step (`job.step == payload["step"]`) and is
   QUEUED or RUNNING -- a step delivered twice (its worker died after the commit, before the
   row was marked delivered), or a cancelled job, does nothing;
2. runs the kind's step function for one batch (at most `batch_size()` items), which writes
   its changes through the same connection;
3. advances the job's cursor, counters and step number and either queues the next step's
   outbox row or marks the job DONE (and runs the kind's `finish`, e.g. one summary hook).

So a killed worker resumes where the last committed step left off, and a batch is applied
exactly once. A step that raises is retried by the dispatcher with backoff; after its last
attempt the job is FAILED with the error. `cancel` marks a job CANCELLED: the next step finds
it so and stops (a step under way finishes its batch first).

Kinds register a step function (`register`, optionally with their own batch size); the modules
that define kinds are listed in `KIND_MODULES` and imported on first use, so `dossier worker`
knows them without the API.

What a step could not do item by item goes to `job_error` (`record_errors`, read through
`BulkJob.errors`); a file a job produced (an export, an import's report) is recorded with
`set_file`; `job.result` holds a kind's outcome (e.g. skipped counts by reason, `add_counts`).
After each committed step, a cancel and a failure, the job's progress is published on
`job_channel(account, id)` for the `job(id:)` subscription.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from crm.actor import Actor, Role
from crm.clock import utcnow
from crm.errors import Conflict, Forbidden, NotFound
from crm.models import BackgroundJob, JobError, OutboxRow
from crm.wiring import wiring

log = logging.getLogger("dossier.jobs")

JOB_PLUGIN = "dossier.jobs"  # the outbox rows' `plugin`: no partner plugin can take this name
JOB_HOOK = "job_step"
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED"
ACTIVE = (QUEUED, RUNNING)
DEFAULT_BATCH_SIZE = 500
# Modules whose import registers job kinds (issue 14 adds bulk actions, imports, exports here).
KIND_MODULES: list[str] = [
    "crm.services.custom_fields",
    "crm.services.imports",
    "crm.services.bulk",
    "crm.services.exports",
]
# A job's kind decides its GraphQL type: these prefixes are a BulkJob, anything else a BackgroundJob.
BULK_KIND_PREFIXES = ("bulk.", "import.", "export.")
# What a published progress message carries (the job row's columns a JobProgress shows).
PROGRESS_COLUMNS = (
    "id", "kind", "status", "total", "done", "skipped", "failed", "error", "started_at", "finished_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one batch did. `cursor` replaces the job's cursor; the counts are added to its own."""

    cursor: dict[str, Any] = field(default_factory=dict)
    done: int = 0
    skipped: int = 0
    failed: int = 0
    finished: bool = False
    # Run once the step has committed (never if it rolled back): live updates, waking the
    # dispatcher for the outbox rows the batch wrote, removing the objects of deleted files.
    after_commit: Callable[[], Awaitable[None]] | None = None


class JobFailed(Exception):
    """Raised by a step, before it wrote anything, when the job cannot go on (the field it
    fills was archived): the job is FAILED with this message at once, without retries."""


Step = Callable[[BackgroundJob, BaseDBAsyncClient, int], Awaitable[StepOutcome]]
Finish = Callable[[BackgroundJob, BaseDBAsyncClient], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    step: Step
    finish: Finish | None = None
    batch_size: int | None = None  # None: DOSSIER_JOB_BATCH_SIZE


@dataclass(frozen=True, slots=True)
class JobErrorRow:
    """One item a job could not handle: an import's file row (`row`, `column`) or a bulk action's
    contact (`contact_id`). `code` is short and stable (INVALID, DUPLICATE, NO_CONSENT...)."""

    code: str
    message: str
    row: int | None = None
    contact_id: int | None = None
    column: str | None = None


JOB_KINDS: dict[str, JobKind] = {}
_settings = {"batch_size": DEFAULT_BATCH_SIZE}
_loaded = False


def register(kind: str, step: Step, finish: Finish | None = None, *, batch_size: int | None = None) -> None:
    """`batch_size`: the kind's own items per step (an import's rows are cheap, a bulk SMS's are
    not); see `batch_size()` for how it meets DOSSIER_JOB_BATCH_SIZE."""
    JOB_KINDS[kind] = JobKind(step, finish, max(1, int(batch_size)) if batch_size else None)


def configure(*, batch_size: int) -> None:
    """DOSSIER_JOB_BATCH_SIZE: items per step (one transaction each)."""
    _settings["batch_size"] = max(1, int(batch_size))


def batch_size(kind: str | None = None) -> int:
    """Items per step for `kind`: its own size when it registered one, else the configured size.
    A configured size below the default caps every kind's own size too: an operator who wants
    shorter transactions (and tests that want several steps from a few items) get them."""
    configured = _settings["batch_size"]
    own = JOB_KINDS[kind].batch_size if kind in JOB_KINDS else None
    if own is None:
        return configured
    return min(own, configured) if configured < DEFAULT_BATCH_SIZE else own


def is_bulk_kind(kind: str) -> bool:
    """Bulk actions, imports and exports (GraphQL `BulkJob`); other kinds are `BackgroundJob`s."""
    return kind.startswith(BULK_KIND_PREFIXES)


def job_channel(account_id: int, job_id: int) -> str:
    """The live-update channel of one job's progress (the `job(id:)` subscription)."""
    return f"dossier:job:{account_id}:{job_id}"


def progress_message(job: BackgroundJob) -> dict[str, Any]:
    """The job's progress as JSON for the live broker (datetimes as ISO strings)."""
    message: dict[str, Any] = {}
    for column in PROGRESS_COLUMNS:
        value = getattr(job, column)
        message[column] = value.isoformat() if hasattr(value, "isoformat") else value
    return message


async def publish_progress(job: BackgroundJob) -> None:
    """Publish after commit; best effort (a listener that misses one sees the next, or reads
    job(id:))."""
    try:
        await wiring.publish(job_channel(job.account_id, job.id), progress_message(job))  # type: ignore[attr-defined]
    except Exception:
        log.exception("could not publish the progress of job %s", job.id)


async def record_errors(conn: BaseDBAsyncClient, job: BackgroundJob, errors: list[JobErrorRow]) -> None:
    """Store what a step could not do, in the step's transaction (one multi-row INSERT per
    chunk): a step retried after a rollback leaves no duplicates behind."""
    if errors:
        await JobError.bulk_create(
            [
                JobError(
                    job_id=job.id,
                    row=e.row,
                    contact_id=e.contact_id,
                    column=e.column[:200] if e.column else None,
                    code=e.code[:32],
                    message=e.message[:4000],
                )
                for e in errors
            ],
            batch_size=1000,
            using_db=conn,
        )


async def set_file(
    conn: BaseDBAsyncClient, job: BackgroundJob, key: str, name: str, content_type: str, size: int
) -> None:
    """Point the job at the object it wrote to the storage (crm/storage: write the object first,
    then call this in the step's transaction). Shown as `BulkJob.file` with a signed link."""
    job.file_key, job.file_name, job.file_content_type, job.file_size = key, name[:200], content_type, size
    await (
        BackgroundJob.filter(id=job.id)
        .using_db(conn)
        .update(file_key=key, file_name=name[:200], file_content_type=content_type, file_size=size)
    )


def add_counts(job: BackgroundJob, key: str, counts: dict[str, int]) -> None:
    """Add `counts` into `job.result[key]` (e.g. skipped contacts by reason); saved with the
    job at the end of the step."""
    result = dict(job.result or {})
    merged = dict(result.get(key) or {})
    for name, count in counts.items():
        if count:
            merged[name] = merged.get(name, 0) + count
    result[key] = merged
    job.result = result


def _load_kinds() -> None:
    global _loaded
    if not _loaded:
        for module in KIND_MODULES:
            importlib.import_module(module)
        _loaded = True


def progress(job: Any) -> float:
    """0..1: items handled (done, skipped, failed) over the total; 1 once DONE."""
    status, total = job["status"] if isinstance(job, dict) else job.status, _get(job, "total")
    if status == DONE:
        return 1.0
    if not total:
        return 0.0
    handled = _get(job, "done") + _get(job, "skipped") + _get(job, "failed")
    return min(1.0, handled / total)


def _get(job: Any, name: str) -> Any:
    return job[name] if isinstance(job, dict) else getattr(job, name)


async def _queue_step(conn: BaseDBAsyncClient, job: BackgroundJob) -> None:
    await OutboxRow.create(
        account_id=job.account_id,  # type: ignore[attr-defined]
        contact_id=None,
        hook=JOB_HOOK,
        plugin=JOB_PLUGIN,
        payload={"job_id": job.id, "step": job.step},
        next_attempt_at=utcnow(),
        using_db=conn,
    )


async def enqueue(
    conn: BaseDBAsyncClient,
    actor: Actor,
    kind: str,
    params: dict[str, Any],
    *,
    total: int,
    cursor: dict[str, Any] | None = None,
) -> BackgroundJob:
    """Queue a job and its first step in the caller's transaction. Call `queued()` after the
    commit so the dispatcher starts at once rather than at its next poll."""
    job = await BackgroundJob.create(
        account_id=actor.account_id,
        kind=kind,
        status=QUEUED,
        params=params,
        cursor=cursor or {},
        total=total,
        started_by_id=actor.user_id,
        using_db=conn,
    )
    await _queue_step(conn, job)
    return job


def queued() -> None:
    wiring.outbox_written()


# Bound parameters per INSERT: below both backends' limits (PostgreSQL 32767, SQLite 32766).
MAX_PARAMETERS = 30_000


async def insert_many(
    conn: BaseDBAsyncClient,
    model: type[Model],
    common: dict[str, Any],
    varying: str,
    values: list[Any],
) -> None:
    """Insert one row per item of `values` (in column `varying`), every other column from
    `common`: multi-row INSERTs, the common values converted once by the columns' own fields
    (what bulk_create does per row and per column)."""
    if not values:
        return
    fields_map = model._meta.fields_map
    names = [name for name in common if name != varying]
    columns = [fields_map[name].source_field or name for name in names] + [
        fields_map[varying].source_field or varying
    ]
    fixed = [fields_map[name].to_db_value(common[name], None) for name in names]  # type: ignore[arg-type]
    convert = fields_map[varying].to_db_value
    postgres = conn.capabilities.dialect == "postgres"
    per_row = len(columns)
    quoted = ", ".join(f'"{column}"' for column in columns)
    head = f'INSERT INTO "{model._meta.db_table}" ({quoted}) VALUES '
    for start in range(0, len(values), max(1, MAX_PARAMETERS // per_row)):
        chunk = values[start : start + max(1, MAX_PARAMETERS // per_row)]
        if postgres:
            groups = (
                "(" + ", ".join(f"${n * per_row + i + 1}" for i in range(per_row)) + ")"
                for n in range(len(chunk))
            )
        else:
            row_marks = "(" + ", ".join("?" * per_row) + ")"
            groups = (row_marks for _ in chunk)
        parameters: list[Any] = []
        for value in chunk:
            parameters += fixed
            parameters.append(convert(value, None))  # type: ignore[arg-type]
        await conn.execute_query(head + ", ".join(groups), parameters)


async def run_step(payload: dict[str, Any]) -> bool:
    """Run the step an outbox row asks for; False when it was stale (already run, or the job
    is no longer active). Raises what the step raised: the dispatcher retries it."""
    _load_kinds()
    job_id, step = int(payload["job_id"]), int(payload["step"])
    async with in_transaction() as conn:
        job = await BackgroundJob.filter(id=job_id).using_db(conn).select_for_update().first()
        if job is None or job.status not in ACTIVE or job.step != step:
            return False
        kind = JOB_KINDS.get(job.kind)
        if kind is None:
            raise LookupError(f"no job kind {job.kind!r} is registered in this process")
        now = utcnow()
        if job.status == QUEUED:
            job.status, job.started_at = RUNNING, now
        outcome: StepOutcome | None = None
        try:
            outcome = await kind.step(job, conn, batch_size(job.kind))
        except JobFailed as exc:
            job.status, job.error, job.finished_at = FAILED, str(exc)[:4000], now
        if outcome is not None:
            job.cursor = outcome.cursor or job.cursor
            job.done += outcome.done
            job.skipped += outcome.skipped
            job.failed += outcome.failed
            job.step += 1
            if outcome.finished:
                job.status, job.finished_at = DONE, utcnow()
                if kind.finish is not None:
                    await kind.finish(job, conn)
            else:
                await _queue_step(conn, job)
        await job.save(using_db=conn)
    if outcome is not None:
        queued()
        if outcome.after_commit is not None:
            try:
                await outcome.after_commit()
            except Exception:  # the batch is committed: what follows it is best effort
                log.exception("job %s: the work after step %s failed", job.id, step)
    await publish_progress(job)
    return True


async def fail(payload: dict[str, Any], error: str) -> None:
    """The step's last attempt failed (dead-lettered): the job is FAILED with the error."""
    job_id = int(payload["job_id"])
    if await BackgroundJob.filter(id=job_id, status__in=ACTIVE).update(
        status=FAILED, error=error[:4000], finished_at=utcnow()
    ):
        job = await BackgroundJob.filter(id=job_id).first()
        if job is not None:
            await publish_progress(job)


async def cancel(actor: Actor, job_id: int) -> BackgroundJob:
    """Stop a job before its next batch (admins, or the user who started it). CONFLICT once it
    has ended."""
    async with in_transaction() as conn:
        job = (
            await BackgroundJob.filter(id=job_id, account_id=actor.account_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if job is None:
            raise NotFound(f"no job with id {job_id} in this account")
        if actor.role is not Role.ADMIN and job.started_by_id != actor.user_id:  # type: ignore[attr-defined]
            raise Forbidden("only admins and the user who started a job can cancel it")
        if job.status not in ACTIVE:
            raise Conflict(f"the job is already {job.status}: only QUEUED or RUNNING jobs can be cancelled")
        job.status, job.finished_at = CANCELLED, utcnow()
        await job.save(using_db=conn)
    await publish_progress(job)
    return job
