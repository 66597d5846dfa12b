"""Mutations, one module per card section. Each resolver: parse input → one service call → return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import strawberry

from graph.resolvers.loaders import join_users


def provided(source: object, names: Mapping[str, str]) -> dict[str, Any]:
    """The input fields the client actually sent (UNSET ones are left out), renamed for the service."""
    result = {}
    for attr, key in names.items():
        value = getattr(source, attr)
        if value is not strawberry.UNSET:
            result[key] = value
    return result


def row_of(model: object, columns: tuple[str, ...]) -> dict[str, Any]:
    """A service's returned model as the row shape the schema types are built from."""
    return {column: getattr(model, column) for column in columns}


async def joined_row(
    info: Any, model: object, columns: tuple[str, ...], users: tuple[str, ...]
) -> dict[str, Any]:
    """`row_of` plus the user columns the read path joins (see loaders.with_users)."""
    return await join_users(info.context.loaders.user, row_of(model, columns), users)


def changed(info: Any) -> None:
    """Forget what this request's loaders cached: the mutation just changed it."""
    info.context.reset_loaders()
