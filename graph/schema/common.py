"""Types shared by every section: pagination and before/after changes."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One field's value before and after a change.")
class FieldChange:
    field: str
    before: JSON | None
    after: JSON | None

    @classmethod
    def from_changes(cls, changes: dict[str, Any] | None) -> list[FieldChange]:
        return [cls(field=name, before=pair[0], after=pair[1]) for name, pair in (changes or {}).items()]
