"""Checking one imported row the way `createContact` checks its input.

The checks are createContact's own: identity fields through `contacts.clean_identity`, the
header lists through `header.clean_header`, custom field values through `custom_values.clean`,
and the same rules for what a contact needs (a name, business name, email or phone; the
account's required custom fields without a default). Only the reading of a cell differs: a
spreadsheet holds text, so a BOOLEAN custom field reads yes/no/true/false/1/0 and a
MULTI_SELECT reads options separated by ";" (or ",").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm.custom_values import Context, Definition, FieldType, clean
from crm.errors import BadInput
from crm.imports.mapping import CONTACT_FIELDS, CUSTOM_PREFIX
from crm.models import Account, CustomField
from crm.services.contacts import clean_identity
from crm.services.custom_fields import default_of, definition
from crm.services.header import HEADER_FIELDS, clean_header

_TRUE = {"true", "yes", "y", "1", "x", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_IDENTIFIERS = ("first_name", "last_name", "business_name", "email", "phone")


@dataclass
class Problem:
    """Why a row was not imported: the column (None: the row as a whole) and a message."""

    column: str | None
    message: str
    code: str = "INVALID"


@dataclass
class CleanRow:
    """A row that passed: Contact columns, and custom values as (field, typed columns)."""

    number: int
    columns: dict[str, Any]
    custom: list[tuple[CustomField, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Rules:
    """What checking a row needs of the account, read once per batch."""

    account: Account
    region: str
    context: Context
    custom: dict[str, CustomField]  # live fields by key
    mapping: dict[str, str]  # column -> field


def required_missing(custom: Mapping[str, CustomField], mapping: Mapping[str, str]) -> list[str]:
    """Required custom fields without a default that no column fills: every row would fail."""
    mapped = {f.removeprefix(CUSTOM_PREFIX) for f in mapping.values() if f.startswith(CUSTOM_PREFIX)}
    return [
        key
        for key, f in custom.items()
        if f.required and default_of(f.default_value) is None and key not in mapped
    ]


def cell_value(d: Definition, text: str) -> Any:
    """A cell's text as the JSON value a custom field of this type takes."""
    if d.type is FieldType.BOOLEAN:
        folded = text.strip().casefold()
        return True if folded in _TRUE else False if folded in _FALSE else text
    if d.type is FieldType.MULTI_SELECT:
        separator = ";" if ";" in text else ","
        return [part.strip() for part in text.split(separator) if part.strip()]
    return text


def check_row(rules: Rules, number: int, cells: Mapping[str, str]) -> CleanRow | list[Problem]:
    """The row's contact columns and custom values, or every problem it has (each named by its
    column, with createContact's message)."""
    problems: list[Problem] = []
    columns: dict[str, Any] = {}
    custom: list[tuple[CustomField, dict[str, Any]]] = []
    for column, target in rules.mapping.items():
        text = cells.get(column, "")
        if not text or not text.strip():
            continue
        try:
            if target.startswith(CUSTOM_PREFIX):
                custom_field = rules.custom[target.removeprefix(CUSTOM_PREFIX)]
                d = definition(custom_field)
                typed = clean(d, cell_value(d, text), rules.context, field=column)
                if typed is not None:
                    custom.append((custom_field, typed))
                continue
            name = CONTACT_FIELDS[target]
            if name in HEADER_FIELDS:
                columns.update(clean_header(rules.account, {name: text}))
            else:
                columns.update(clean_identity({name: text}, region=rules.region))
        except BadInput as exc:
            problems.append(Problem(column, exc.message))
    if problems:
        return problems
    if not any(columns.get(k) for k in _IDENTIFIERS):
        return [Problem(None, "a contact needs at least a name, business name, email or phone")]
    given = {f.key for f, _ in custom}
    for key, f in rules.custom.items():
        if f.required and key not in given and default_of(f.default_value) is None:
            return [
                Problem(
                    None, f"custom field {key!r}: the field is required and has no default: give it a value"
                )
            ]
    return CleanRow(number, {k: v for k, v in columns.items() if v is not None}, custom)


def as_cells(header: Sequence[str], values: Sequence[str]) -> dict[str, str]:
    return dict(zip(header, values, strict=False))
