"""Types shared by every section: pagination and before/after changes."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from strawberry.scalars import JSON

from crm import money

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

_new = object.__new__


def built(cls: type[T], attributes: dict[str, Any]) -> T:
    """A schema object of the read path made from its complete attribute dict.

    A card builds about a thousand such objects per request; strawberry types are dataclasses,
    and their keyword-argument `__init__` was most of the cost of building one. This is the
    same object (the same class, the same `__dict__`), so `attributes` must name every field,
    private ones included: `tests/test_schema_objects.py` checks each `from_row` against the
    dataclass fields.
    """
    obj = _new(cls)
    obj.__dict__ = attributes
    return obj


class SharedObjects(Generic[K, V]):
    """One object per equal key, shared across requests, for the read path's immutable schema
    objects (a journey's few actors and users, its repeated changes). Bounded: when full it
    is emptied, and objects are simply built again."""

    def __init__(self, limit: int) -> None:
        self._objects: dict[K, V] = {}
        self._limit = limit

    def get(self, key: K, make: Callable[..., V], *args: Any) -> V:
        """The object for `key`, made by `make(*args)` the first time."""
        found = self._objects.get(key)
        if found is None:
            if len(self._objects) >= self._limit:
                self._objects.clear()
            found = self._objects[key] = make(*args)
        return found


@strawberry.type(description="An exact amount of money in one currency.")
class Money:
    amount: Decimal = strawberry.field(
        description="Exact decimal, as a string with the currency's decimal places (ISO 4217 minor "
        "units): 1999.50 USD, 2000 JPY, 12.345 BHD."
    )
    currency: str = strawberry.field(description="ISO 4217 code, e.g. USD.")

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        """`amount` shown in `currency`'s minor units (crm/money.py)."""
        return cls(amount=money.for_api(Decimal(amount), currency), currency=currency)


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
    def of(cls, changes: str | bytes | dict[str, Any] | None) -> Sequence[FieldChange]:
        """The changes of a journey entry: its JSON text as stored (the read path keeps it
        undecoded, see `graph.resolvers.loaders`), or the decoded dict (a live update).
        Equal texts share one tuple of changes across requests: a journey repeats them."""
        if type(changes) is str or type(changes) is bytes:
            return _CHANGE_LISTS.get(changes, _decoded_changes, changes)
        return cls.from_changes(changes)  # type: ignore[arg-type]

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
                hash(key)
            except TypeError:
                result.append(cls(field=name, before=before, after=after))
            else:
                result.append(_CHANGES.get(key, _change, name, before, after))
        return result


def _change(field: str, before: Any, after: Any) -> FieldChange:
    return FieldChange(field=field, before=before, after=after)


_CHANGES: SharedObjects[tuple[Any, ...], FieldChange] = SharedObjects(8192)


def _decoded_changes(text: str | bytes) -> tuple[FieldChange, ...]:
    return tuple(FieldChange.from_changes(orjson.loads(text)))


_CHANGE_LISTS: SharedObjects[str | bytes, tuple[FieldChange, ...]] = SharedObjects(8192)
