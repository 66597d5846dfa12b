"""Fields a connection resolver can fill in ahead (see graph/execution.py, Kind.PREPARED).

A resolver such as `Quote.lineItems` loads per object through a DataLoader: correct, but one
awaited resolver per object. When the card's `quotes(first:)` already holds the page, it can
load every shown quote's line items at once (the same batched statement) and store them on each
object; the field then only has to read them.

    @strawberry.field
    @prepared("_line_items")
    async def line_items(self, info: Info) -> list[LineItem]:
        if self._line_items is not NOT_READ:
            return self._line_items
        ...  # load as before

`@prepared(attribute)` marks the resolver: the compiled executor reads `attribute` and uses it
as the field's value, unless it is `NOT_READ`, in which case it runs the resolver as
graphql-core would. The resolver itself must answer the attribute's value when set (as above),
so that both executors answer the same. Only for fields without arguments, field extensions or
permission classes (otherwise the executor always runs the resolver).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

PREPARED_MARK = "_dossier_prepared"

F = TypeVar("F", bound=Callable[..., Any])


class _NotRead:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_READ"

    def __reduce__(self) -> str:
        return "NOT_READ"


NOT_READ: Any = _NotRead()


def prepared(attribute: str) -> Callable[[F], F]:
    """Mark a resolver whose value a connection may have stored in `attribute` (see above)."""

    def mark(function: F) -> F:
        setattr(function, PREPARED_MARK, attribute)
        return function

    return mark
