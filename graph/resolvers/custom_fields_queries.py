"""Root fields: the account's custom field definitions."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.context import Info
from graph.schema.custom_fields import CustomField


@strawberry.type
class CustomFieldQueries:
    @strawberry.field(description="The account's custom field definitions, in the order they were made.")
    async def custom_fields(
        self,
        info: Info,
        include_archived: Annotated[
            bool, strawberry.argument(description="Archived ones too (hidden from cards).")
        ] = False,
    ) -> list[CustomField]:
        rows = await info.context.loaders.custom_fields.load(include_archived)
        return [CustomField.from_row(row) for row in rows]
