"""Background jobs (crm/jobs.py) as the API shows them.

Every job is a `JobProgress`. A job's kind decides its type: bulk actions, imports and exports
(kinds `bulk.*`, `import.*`, `export.*`) are `BulkJob`s, with their errors, file and outcome;
anything else (applyCustomFieldToAll) is a `BackgroundJob`. Both live in one table, so
`job(id:)`, `cancelJob` and the `job(id:)` subscription take either id.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from crm import file_links, jobs
from crm.errors import BadInput, NotFound
from crm.services.bulk import BulkAction, SkipReason, action_of
from graph.context import Info
from graph.ids import decode_cursor, encode_cursor, page_size, parse_global_id
from graph.schema.accounts import User, joined_user
from graph.schema.common import PageInfo, forward_page

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

LazyContact = Annotated["Contact", strawberry.lazy("graph.schema.contacts")]
JOB_TYPES = ("BackgroundJob", "BulkJob")
JOB_ERROR_CURSOR = "job_error"

BulkActionKind = strawberry.enum(
    BulkAction, name="BulkActionKind", description='What bulkAction does (README, "Bulk actions").'
)
SkipReasonEnum = strawberry.enum(
    SkipReason,
    name="SkipReason",
    description="Why a contact (or an import's row) was left as it was.",
)


@strawberry.enum(description="Where a background job is.")
class BackgroundJobStatus(Enum):
    QUEUED = strawberry.enum_value("QUEUED", description="Waiting for a worker.")
    RUNNING = strawberry.enum_value("RUNNING", description="Batches under way.")
    DONE = strawberry.enum_value("DONE", description="Every item handled.")
    FAILED = strawberry.enum_value("FAILED", description="Stopped by an error (see error).")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Stopped by cancelJob before its next batch.")


@strawberry.interface(
    description="Long work run in batches by the worker: applyCustomFieldToAll (BackgroundJob), bulk "
    "actions, imports and exports (BulkJob). job(id:) reads it, the job(id:) subscription follows it, "
    "cancelJob stops it."
)
class JobProgress(relay.Node):
    id: relay.NodeID[int]
    kind: str = strawberry.field(
        description='What it does: "custom_field.apply_to_all", "bulk.SET_STATUS", "import.contacts", '
        '"export.contacts"...'
    )
    status: BackgroundJobStatus
    total: int = strawberry.field(description="Items it will go through (counted when queued).")
    done: int = strawberry.field(description="Items changed.")
    skipped: int = strawberry.field(description="Items left as they were (e.g. already had a value).")
    failed: int = strawberry.field(description="Items that could not be handled.")
    progress: float = strawberry.field(description="0 to 1: (done + skipped + failed) / total; 1 once DONE.")
    started_by: User | None = strawberry.field(description="Who queued it, while that user exists.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = strawberry.field(description="Why it FAILED.")


def _common(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "status": BackgroundJobStatus(row["status"]),
        "total": row["total"],
        "done": row["done"],
        "skipped": row["skipped"],
        "failed": row["failed"],
        "progress": jobs.progress(dict(row)),
        "started_by": joined_user(row, "started_by"),
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "error": row["error"],
    }


@strawberry.type(
    description="A job of applyCustomFieldToAll, run in batches by the worker; query it with job(id:) "
    "to follow its progress."
)
class BackgroundJob(JobProgress):
    @classmethod
    def from_row(cls, row: Any) -> BackgroundJob:
        return cls(**_common(row))


@strawberry.type(description="How many items were skipped for one reason.")
class SkipCount:
    reason: SkipReasonEnum  # type: ignore[valid-type]
    count: int


@strawberry.type(description="One item a bulk action, import or export could not handle.")
class JobError:
    row: int | None = strawberry.field(description="Imports: the file's row (1 is the header row).")
    column: str | None = strawberry.field(description="Imports: the column (its header) at fault.")
    code: str = strawberry.field(description="Short and stable: INVALID, DUPLICATE, NO_SMS_CONSENT...")
    message: str = strawberry.field(description="What went wrong, for a person.")
    contact_id: strawberry.Private[int | None]

    @strawberry.field(description="Bulk actions: the contact it concerns, while it exists.")
    async def contact(self, info: Info) -> LazyContact | None:
        if self.contact_id is None:
            return None
        from graph.schema.contacts import load_contact

        try:
            return await load_contact(info, self.contact_id)
        except NotFound:
            return None


@strawberry.type
class JobErrorEdge:
    cursor: str
    node: JobError


@strawberry.type(description="A page of a job's errors, in the order they were found.")
class JobErrorConnection:
    edges: list[JobErrorEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[JobError]:
        return [edge.node for edge in self.edges]


@strawberry.type(description="A file a job produced: an export, an import's report.")
class JobFile:
    name: str
    content_type: str
    size: int = strawberry.field(description="Bytes.")
    _job_id: strawberry.Private[int]
    _account_id: strawberry.Private[int]

    @strawberry.field(description="A signed link to download it, working for expiresIn seconds.")
    def download_url(
        self,
        info: Info,
        expires_in: Annotated[
            int,
            strawberry.argument(
                description=f"Seconds the link works, 1 to {file_links.MAX_EXPIRES_IN} (a week); anyone "
                "holding it can download the file until then."
            ),
        ] = file_links.DEFAULT_EXPIRES_IN,
    ) -> str:
        if not 1 <= expires_in <= file_links.MAX_EXPIRES_IN:
            raise BadInput(
                f"expiresIn must be between 1 and {file_links.MAX_EXPIRES_IN} seconds, got {expires_in}",
                field="expiresIn",
            )
        token = file_links.make_token(
            self._job_id, self._account_id, expires_in, purpose=file_links.JOB_FILE_PURPOSE
        )
        base = (file_links.public_url() or str(info.context.request.base_url)).rstrip("/")
        return f"{base}{file_links.JOB_FILES_PATH}/{token}"


@strawberry.type(
    description="A bulk action (bulkAction), an import or an export, run in batches by the worker."
)
class BulkJob(JobProgress):
    action: BulkActionKind | None = strawberry.field(  # type: ignore[valid-type]
        description="The bulk action; null for imports and exports."
    )
    dry_run: bool = strawberry.field(
        description="A dry run: counted what would change, changed nothing (DONE at once)."
    )
    skipped_by_reason: list[SkipCount] = strawberry.field(
        description="The skipped items by reason (a dry run: what would be skipped)."
    )
    result: JSON | None = strawberry.field(
        description="What the kind reports when done (e.g. an import's created / merged counts)."
    )
    file: JobFile | None = strawberry.field(description="The file it produced, once there is one.")
    _account_id: strawberry.Private[int]

    @strawberry.field(description="What it could not do, item by item, in the order found.")
    async def errors(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="1 to 100.")] = 20,
        after: str | None = None,
    ) -> JobErrorConnection:
        size = page_size(first)
        bound = decode_cursor(after, JOB_ERROR_CURSOR) if after else 0
        rows = await info.context.loaders.job_errors.load((self.id, size, bound))  # type: ignore[attr-defined]
        edges = [
            JobErrorEdge(
                cursor=encode_cursor(JOB_ERROR_CURSOR, r["id"]),
                node=JobError(
                    row=r["row"],
                    column=r["column"],
                    code=r["code"],
                    message=r["message"],
                    contact_id=r["contact_id"],
                ),
            )
            for r in rows[:size]
        ]
        page = forward_page(edges, more=len(rows) > size, after=after)
        return JobErrorConnection(edges=edges, page_info=page)

    @classmethod
    def from_row(cls, row: Any) -> BulkJob:
        result = row["result"] or {}
        known = {reason.value for reason in SkipReason}
        skipped = result.get("skipped") if isinstance(result, dict) else None
        file = None
        if row["file_key"]:
            file = JobFile(
                name=row["file_name"] or "file",
                content_type=row["file_content_type"] or "application/octet-stream",
                size=row["file_size"] or 0,
                _job_id=row["id"],
                _account_id=row["account_id"],
            )
        return cls(
            **_common(row),
            action=action_of(row["kind"]),
            dry_run=bool(row["dry_run"]),
            skipped_by_reason=[
                SkipCount(reason=SkipReason(reason), count=count)
                for reason, count in sorted((skipped or {}).items())
                if reason in known and count
            ],
            result=row["result"],
            file=file,
            _account_id=row["account_id"],
        )


def job_from_row(row: Any) -> BackgroundJob | BulkJob:
    """The job's type follows its kind (crm.jobs.is_bulk_kind)."""
    return BulkJob.from_row(row) if jobs.is_bulk_kind(row["kind"]) else BackgroundJob.from_row(row)


def decode_job_id(value: str, field: str = "id") -> int:
    """A BackgroundJob or a BulkJob id: both name a row of the same table."""
    try:
        type_name, number = parse_global_id(value)
    except ValueError:
        raise BadInput(f"{field} {value!r} is not a valid job id", field=field) from None
    if type_name not in JOB_TYPES:
        raise BadInput(f"{field} {value!r} is a {type_name} id, not a job's id", field=field)
    return number


async def load_job(info: Info, job_id: int) -> BackgroundJob | BulkJob:
    """The account's job of either type; NOT_FOUND for anything else."""
    row = await info.context.loaders.background_job.load(job_id)
    if row is None:
        raise NotFound(f"no job with id {job_id} in this account")
    return job_from_row(row)


async def load_typed_job(info: Info, type_name: str, job_id: int) -> BackgroundJob | BulkJob:
    """node(id:): the job only under its own type's id (a BulkJob id never names a BackgroundJob)."""
    row = await info.context.loaders.background_job.load(job_id)
    if row is None or (type_name == "BulkJob") != jobs.is_bulk_kind(row["kind"]):
        raise NotFound(f"no {type_name} with id {job_id} in this account")
    return job_from_row(row)
