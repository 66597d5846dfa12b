"""Relay global IDs and opaque cursors."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from graphql.type.scalars import serialize_id
from strawberry import relay

from crm.errors import BadInput

MAX_DB_ID = 2**31 - 1  # ids are 32-bit integer columns (PostgreSQL INTEGER)


def global_id(type_name: str, node_id: int) -> relay.GlobalID:
    return relay.GlobalID(type_name, str(node_id))


# base64.b64encode and urlsafe_b64encode are Python wrappers around binascii; a card writes
# about 600 ids and cursors, so these call it directly (same text, no newline).
_b2a = binascii.b2a_base64
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def global_id_text(type_name: str, node_id: int | str) -> str:
    """The global ID as the client sees it: what str(GlobalID) gives, without the object."""
    return _b2a(f"{type_name}:{node_id}".encode(), newline=False).decode()


class NonCanonicalId(ValueError):
    """A global ID that decodes, but is not the text this API writes for that object."""


def parse_global_id(value: str) -> tuple[str, int]:
    """The type name and database id inside a global ID written exactly as `global_id_text`
    writes it. relay's decoding is lenient ("Contact:01", "Contact: 1", "+1", full-width
    digits, a trailing newline, extra padding all give id 1), so one object would answer to
    many names, and caches, logs and audit trails keyed on ids would disagree; only the
    canonical text is accepted: NonCanonicalId for another spelling, ValueError for anything
    that is no id at all or lies outside the id columns."""
    if not isinstance(value, str):
        raise ValueError(value)
    try:
        gid = relay.GlobalID.from_id(value)
        type_name, number = gid.type_name, int(gid.node_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(value) from exc
    if not 1 <= number <= MAX_DB_ID:  # beyond the id columns' range: the database would raise
        raise ValueError(value)
    if global_id_text(type_name, number) != value:
        raise NonCanonicalId(value)
    return type_name, number


def decode_id(value: str, expected: str, field: str = "id") -> int:
    """The database id inside a global ID of the expected type; anything else is bad input."""
    try:
        type_name, number = parse_global_id(value)
    except ValueError:
        raise BadInput(f"{field} {value!r} is not a valid {expected} id", field=field) from None
    if type_name != expected:
        raise BadInput(f"{field} {value!r} is a {type_name} id, not a {expected} id", field=field)
    return number


def encode_cursor(kind: str, position: int) -> str:
    """What base64.urlsafe_b64encode gives for "kind:position"."""
    return _b2a(f"{kind}:{position}".encode(), newline=False).translate(_URLSAFE).decode()


def decode_cursor(cursor: str, kind: str, field: str = "after") -> int:
    """The position inside a cursor this API wrote; like ids, only the canonical text."""
    try:
        prefix, position = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        if prefix != kind:
            raise ValueError(prefix)
        number = int(position)
        if not 0 <= number <= MAX_DB_ID or encode_cursor(kind, number) != cursor:
            raise ValueError(position)
        return number
    except (ValueError, binascii.Error, UnicodeDecodeError, UnicodeEncodeError):
        raise BadInput(f"{field} {cursor!r} is not a cursor from this list", field=field) from None


MAX_PAGE = 100  # GitHub's bound for `first`


def page_size(first: int, field: str = "first") -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadInput(f"{field} must be between 1 and {MAX_PAGE}, got {first}", field=field)
    return first


# Relay's Node.id, answered without its resolver (graph.execution and graph.codegen use them).
_DEFAULT_RESOLVE_ID = relay.Node.resolve_id.__func__  # type: ignore[attr-defined]
_DEFAULT_RESOLVE_TYPENAME = relay.Node.resolve_typename.__func__  # type: ignore[attr-defined]
_ID_ATTRIBUTES: dict[type, str | None] = {}


def serialises_ids_as_text(leaf: Any) -> bool:
    """graphql-core's ID scalar serialises a GlobalID as str(GlobalID), i.e. global_id_text."""
    return leaf is not None and leaf.coerce_output_value is serialize_id


def node_id_text(root: Any, type_name: str) -> str | None:
    """node_global_id's answer as the ID scalar serialises it (str(GlobalID)), without the object."""
    node_id = _node_id_value(root)
    return None if node_id is None else global_id_text(type_name, node_id)


def _node_id_value(root: Any) -> str | None:
    cls = type(root)
    attribute = _ID_ATTRIBUTES.get(cls, "")
    if attribute == "":
        attribute = None
        if (
            isinstance(root, relay.Node)
            and getattr(cls.resolve_id, "__func__", None) is _DEFAULT_RESOLVE_ID
            and getattr(cls.resolve_typename, "__func__", None) is _DEFAULT_RESOLVE_TYPENAME
        ):
            attribute = cls.resolve_id_attr()
        _ID_ATTRIBUTES[cls] = attribute
    if attribute is None:
        return None
    node_id = getattr(root, attribute)
    if node_id is None or not isinstance(node_id, str | int):
        return None
    return str(node_id)


def node_global_id(root: Any, type_name: str) -> relay.GlobalID | None:
    """What relay's `Node.id` answers, without its info, for a node class that keeps relay's
    `resolve_id` (the NodeID attribute) and `resolve_typename` (the type being completed).
    None when relay's own resolver must run: overridden methods, a missing or pending id."""
    node_id = _node_id_value(root)
    return None if node_id is None else relay.GlobalID(type_name=type_name, node_id=node_id)
