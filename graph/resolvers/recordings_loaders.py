"""The request's loaders for call recordings (graph/schema/recordings.py).

`Call.recording` for a page of calls (a card's calls list, `calls(first: 100)`) is one
statement: every RECORDING attachment of the batch's calls, bound to the account, newest
first; the first per call is its recording (a crash between storing and replacing can leave
two for a moment, crm/services/recordings.py). `shareUrl` and `shares` add one statement for
the batch: the active shares of those calls, newest first (at most MAX_ACTIVE_SHARES a call).
A share by id (node(id:)) is one batched statement.
"""

from __future__ import annotations

from collections import defaultdict

from strawberry.dataloader import DataLoader

from crm.clock import utcnow
from crm.models import Attachment, RecordingShare
from crm.models.attachments import AttachmentKind
from graph.resolvers.reads import Params, Row, dialect, fetch, shape

RECORDING_COLUMNS = (
    "id", "call_id", "contact_id", "account_id", "filename", "content_type", "size", "sha256",
    "duration_seconds", "created_at",
)  # fmt: skip
SHARE_COLUMNS = (
    "id", "account_id", "call_id", "attachment_id", "salt", "expires_at", "created_by_id",
    "created_by_name", "created_at", "revoked_at", "revoked_by_name",
)  # fmt: skip


class RecordingLoaders:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.recording_by_call: DataLoader[int, Row | None] = DataLoader(self._load_recordings)
        self.active_shares_by_call: DataLoader[int, list[Row]] = DataLoader(self._load_active_shares)
        self.recording_share: DataLoader[int, Row | None] = DataLoader(self._load_shares)

    def loaders(
        self,
    ) -> tuple[DataLoader[int, Row | None], DataLoader[int, list[Row]], DataLoader[int, Row | None]]:
        return self.recording_by_call, self.active_shares_by_call, self.recording_share

    async def _load_recordings(self, call_ids: list[int]) -> list[Row | None]:
        params = Params(dialect())
        where = (
            f't."call_id" IN ({params.many(set(call_ids))}) AND t."account_id" = {params(self.account_id)}'
            f' AND t."kind" = {params(AttachmentKind.RECORDING.value)}'
        )
        found: dict[int, Row] = {}
        for row in await fetch(shape(Attachment, RECORDING_COLUMNS), params, where, 't."id" DESC'):
            found.setdefault(row["call_id"], row)
        return [found.get(i) for i in call_ids]

    async def _load_active_shares(self, call_ids: list[int]) -> list[list[Row]]:
        params = Params(dialect())
        where = (
            f't."call_id" IN ({params.many(set(call_ids))}) AND t."account_id" = {params(self.account_id)}'
            f' AND t."revoked_at" IS NULL AND t."expires_at" > {params(utcnow())}'
        )
        found: dict[int, list[Row]] = defaultdict(list)
        for row in await fetch(shape(RecordingShare, SHARE_COLUMNS), params, where, 't."id" DESC'):
            found[row["call_id"]].append(row)
        return [found.get(i, []) for i in call_ids]

    async def _load_shares(self, ids: list[int]) -> list[Row | None]:
        params = Params(dialect())
        where = f't."id" IN ({params.many(set(ids))}) AND t."account_id" = {params(self.account_id)}'
        rows = await fetch(shape(RecordingShare, SHARE_COLUMNS), params, where)
        found = {row["id"]: row for row in rows}
        return [found.get(i) for i in ids]
