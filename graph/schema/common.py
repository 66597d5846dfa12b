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


def forward_page(edges: list[Any], *, more: bool, after: str | None) -> PageInfo:
    """PageInfo of a page read forwards (`first`/`after`); `edges` have a `cursor`."""
    return PageInfo(
        has_next_page=more,
        has_previous_page=bool(after),
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


def backward_page(edges: list[Any], *, more: bool, before: str | None) -> PageInfo:
    """PageInfo of a page read backwards (`last`/`before`), its edges already in reading order."""
    return PageInfo(
        has_next_page=bool(before),
        has_previous_page=more,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )


@strawberry.type(description="One field's value before and after a change.")
class FieldChange:
    field: str
    before: JSON | None
    after: JSON | None

    @classmethod
    def from_changes(cls, changes: dict[str, Any] | None) -> list[FieldChange]:
        return [cls(field=name, before=pair[0], after=pair[1]) for name, pair in (changes or {}).items()]
