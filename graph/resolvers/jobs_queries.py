"""job(id:) as a query and as a subscription: a BackgroundJob or a BulkJob, by either id."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from crm import jobs
from graph.context import Info
from graph.schema.jobs import JobProgress, decode_job_id, load_job

JOB_ID_HELP = "A BulkJob or BackgroundJob id."
_JOB_ID = strawberry.argument(description=JOB_ID_HELP)
ENDED = frozenset({jobs.DONE, jobs.FAILED, jobs.CANCELLED})


@strawberry.type
class JobQueries:
    @strawberry.field(
        description="A job of the account (bulk action, import, export, apply to all) and its progress."
    )
    async def job(self, info: Info, id: Annotated[strawberry.ID, _JOB_ID]) -> JobProgress:
        return await load_job(info, decode_job_id(id))


async def follow_job(info: Info, id: str) -> AsyncGenerator[JobProgress, None]:
    """The job now, then again after each committed batch, a cancel or a failure; the
    subscription ends once the job has ended."""
    actor = info.context.require_actor()
    job_id = decode_job_id(id)
    job = await load_job(info, job_id)  # NOT_FOUND before listening to anything
    ready = asyncio.Event()
    updates = info.context.broker.subscribe(jobs.job_channel(actor.account_id, job_id), ready)
    # Listen first, then read: a batch committed in between is then both read and heard, never lost.
    waiting = asyncio.ensure_future(anext(updates))  # type: ignore[arg-type]
    try:
        ready_or_done = asyncio.ensure_future(ready.wait())
        await asyncio.wait({waiting, ready_or_done}, return_when=asyncio.FIRST_COMPLETED)
        ready_or_done.cancel()
        info.context.reset_loaders()
        job = await load_job(info, job_id)
        yield job
        while job.status.value not in ENDED:
            await waiting
            waiting = asyncio.ensure_future(anext(updates))  # type: ignore[arg-type]
            info.context.reset_loaders()  # fresh reads per event: the row has moved on
            job = await load_job(info, job_id)
            yield job
    finally:
        waiting.cancel()
        with contextlib.suppress(BaseException):
            await waiting
        await updates.aclose()  # type: ignore[attr-defined]
