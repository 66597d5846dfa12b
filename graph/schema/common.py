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
        if not changes:
            return []
        result = []
        for name, pair in changes.items():
            before, after = pair[0], pair[1]
            # Journeys repeat the same changes (status new → contacted, ...): equal scalar
            # changes share one object. Lists and dicts are not hashable and are built anew;
            # the types are part of the key, or True would find the change made for 1.
            key = (name, type(before), before, type(after), after)
            try:
                change = _CHANGES.get(key)
            except TypeError:
                change = cls(field=name, before=before, after=after)
            else:
                if change is None:
                    if len(_CHANGES) >= 8192:
                        _CHANGES.clear()
                    change = _CHANGES[key] = cls(field=name, before=before, after=after)
            result.append(change)
        return result


_CHANGES: dict[tuple[Any, ...], FieldChange] = {}
