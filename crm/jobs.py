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

Kinds register a step function (`register`); the modules that define kinds are listed in
`KIND_MODULES` and imported on first use, so `dossier worker` knows them without the API.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from crm.actor import Actor, Role
from crm.clock import utcnow
from crm.errors import Conflict, Forbidden, NotFound
from crm.models import BackgroundJob, OutboxRow
from crm.wiring import wiring

JOB_PLUGIN = "dossier.jobs"  # the outbox rows' `plugin`: no partner plugin can take this name
JOB_HOOK = "job_step"
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED"
ACTIVE = (QUEUED, RUNNING)
DEFAULT_BATCH_SIZE = 500
# Modules whose import registers job kinds (issue 14 adds bulk actions, imports, exports here).
KIND_MODULES: list[str] = ["crm.services.custom_fields"]


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one batch did. `cursor` replaces the job's cursor; the counts are added to its own."""

    cursor: dict[str, Any] = field(default_factory=dict)
    done: int = 0
    skipped: int = 0
    failed: int = 0
    finished: bool = False


class JobFailed(Exception):
    """Raised by a step, before it wrote anything, when the job cannot go on (the field it
    fills was archived): the job is FAILED with this message at once, without retries."""


Step = Callable[[BackgroundJob, BaseDBAsyncClient, int], Awaitable[StepOutcome]]
Finish = Callable[[BackgroundJob, BaseDBAsyncClient], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    step: Step
    finish: Finish | None = None


JOB_KINDS: dict[str, JobKind] = {}
_settings = {"batch_size": DEFAULT_BATCH_SIZE}
_loaded = False


def register(kind: str, step: Step, finish: Finish | None = None) -> None:
    JOB_KINDS[kind] = JobKind(step, finish)


def configure(*, batch_size: int) -> None:
    """DOSSIER_JOB_BATCH_SIZE: items per step (one transaction each)."""
    _settings["batch_size"] = max(1, int(batch_size))


def batch_size() -> int:
    return _settings["batch_size"]


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
        try:
            outcome = await kind.step(job, conn, batch_size())
        except JobFailed as exc:
            job.status, job.error, job.finished_at = FAILED, str(exc)[:4000], now
            await job.save(using_db=conn)
            return True
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
    queued()
    return True


async def fail(payload: dict[str, Any], error: str) -> None:
    """The step's last attempt failed (dead-lettered): the job is FAILED with the error."""
    await BackgroundJob.filter(id=int(payload["job_id"]), status__in=ACTIVE).update(
        status=FAILED, error=error[:4000], finished_at=utcnow()
    )


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
            raise NotFound(f"no BackgroundJob with id {job_id} in this account")
        if actor.role is not Role.ADMIN and job.started_by_id != actor.user_id:  # type: ignore[attr-defined]
            raise Forbidden("only admins and the user who started a job can cancel it")
        if job.status not in ACTIVE:
            raise Conflict(f"the job is already {job.status}: only QUEUED or RUNNING jobs can be cancelled")
        job.status, job.finished_at = CANCELLED, utcnow()
        await job.save(using_db=conn)
    return job
