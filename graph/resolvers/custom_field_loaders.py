"""The request's loaders for custom fields and background jobs.

A card's `customFields` costs two statements whatever the number of cards: the account's
definitions (one key per request) and the values of every card of the batch.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from strawberry.dataloader import DataLoader

from crm.custom_values import VALUE_COLUMNS
from crm.models import BackgroundJob, CustomField, CustomFieldValue
from graph.resolvers.reads import Row

FIELD_COLUMNS = (
    "id", "key", "label", "type", "options", "required", "default_value", "archived_at", "created_at",
    "updated_at",
)  # fmt: skip
VALUE_READ = ("contact_id", "field_id", *VALUE_COLUMNS)
# Both job types' columns (graph/schema/jobs.py): a BulkJob adds its outcome and file.
JOB_COLUMNS = (
    "id", "account_id", "kind", "status", "total", "done", "skipped", "failed", "error", "started_by_id",
    "created_at", "started_at", "finished_at", "dry_run", "result", "file_key", "file_name",
    "file_content_type", "file_size",
)  # fmt: skip


class CustomFieldLoaders:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.custom_field: DataLoader[int, Row | None] = DataLoader(self._fields_by_id)
        # Key: include archived ones. The account's definitions, in the order they were made.
        self.custom_fields: DataLoader[bool, list[Row]] = DataLoader(self._definitions)
        self.custom_values_by_contact: DataLoader[int, list[Row]] = DataLoader(self._values)
        self.background_job: DataLoader[int, Row | None] = DataLoader(self._jobs)

    def loaders(
        self,
    ) -> tuple[
        DataLoader[int, Row | None],
        DataLoader[bool, list[Row]],
        DataLoader[int, list[Row]],
        DataLoader[int, Row | None],
    ]:
        return self.custom_field, self.custom_fields, self.custom_values_by_contact, self.background_job

    async def _fields_by_id(self, ids: list[int]) -> list[Row | None]:
        rows = await CustomField.filter(id__in=set(ids), account_id=self.account_id).values(*FIELD_COLUMNS)
        found = {row["id"]: row for row in rows}
        return [found.get(i) for i in ids]

    async def _definitions(self, keys: list[bool]) -> list[list[Row]]:
        rows = await CustomField.filter(account_id=self.account_id).order_by("id").values(*FIELD_COLUMNS)
        live = [row for row in rows if row["archived_at"] is None]
        return [rows if include_archived else live for include_archived in keys]

    async def _values(self, contact_ids: list[int]) -> list[list[Row]]:
        rows = await CustomFieldValue.filter(
            contact_id__in=set(contact_ids), field__account_id=self.account_id
        ).values(*VALUE_READ)
        by_contact: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            by_contact[row["contact_id"]].append(row)
        return [by_contact.get(i, []) for i in contact_ids]

    async def _jobs(self, ids: list[int]) -> list[Row | None]:
        from graph.resolvers.loaders import with_users

        columns = with_users(JOB_COLUMNS, ("started_by",))
        rows = await BackgroundJob.filter(id__in=set(ids), account_id=self.account_id).values(*columns)
        found = {row["id"]: row for row in rows}
        return [found.get(i) for i in ids]
