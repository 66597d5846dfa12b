"""The request's loader of job errors (BulkJob.errors): one page per key (job, size, after id)."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from crm.models import JobError
from graph.resolvers.reads import Row

ERROR_COLUMNS = ("id", "row", "column", "code", "message", "contact_id")
ErrorsKey = tuple[int, int, int]  # job id, page size, errors after this id


def attach_jobs(loaders: Any) -> None:
    account_id = loaders.account_id

    async def pages(keys: list[ErrorsKey]) -> list[list[Row]]:
        # A request reads one job's errors (job(id:) or node(id:)): a page per key, each on the
        # (job_id, id) index, scoped to the account through the job.
        result = []
        for job_id, size, after in keys:
            rows = (
                await JobError.filter(job_id=job_id, job__account_id=account_id, id__gt=after)
                .order_by("id")
                .limit(size + 1)
                .values(*ERROR_COLUMNS)
            )
            result.append(rows)
        return result

    loaders.job_errors = DataLoader(pages)
