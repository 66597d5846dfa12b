"""Which column of an import file fills which contact field.

A field is named as `createContact`'s input names it (firstName, email, leadSource, ... the
address's parts by their own names: street, city, state, zip, country) or `customField:<key>`.
Without a mapping, headers are matched by their folded form (case, spaces and punctuation
ignored) against the field names, common aliases ("E-mail", "Mobile", "Zip code") and the
account's custom field keys and labels. A header that matches nothing is skipped, and comes with
suggestions: the closest field names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crm.errors import BadInput
from crm.services.contacts import IDENTITY_FIELDS
from crm.services.header import HEADER_FIELDS

CUSTOM_PREFIX = "customField:"
MAX_SUGGESTIONS = 3

# The importable contact fields: API name -> Contact column (identity and header), in the
# template's column order.
CONTACT_FIELDS: dict[str, str] = {
    **{api: column for column, api in IDENTITY_FIELDS.items()},
    **{api: column for column, api in HEADER_FIELDS.items()},
}
# Headers people write for each field, beyond the field's own name (folded forms).
ALIASES: dict[str, tuple[str, ...]] = {
    "firstName": ("first", "firstname", "givenname", "forename"),
    "lastName": ("last", "lastname", "surname", "familyname"),
    "businessName": ("business", "company", "companyname", "organization", "organisation"),
    "title": ("jobtitle", "position", "role"),
    "contactType": ("type",),
    "email": ("email", "emailaddress", "mail", "primaryemail", "email1"),
    "secondaryEmail": ("email2", "otheremail", "alternateemail", "workemail"),
    "phone": (
        "phone",
        "phonenumber",
        "mobile",
        "mobilephone",
        "cell",
        "cellphone",
        "tel",
        "telephone",
        "phone1",
    ),
    "secondaryPhone": ("phone2", "otherphone", "homephone", "workphone", "landline"),
    "street": ("address", "streetaddress", "address1", "addressline1"),
    "city": ("town",),
    "state": ("province", "region", "county"),
    "zip": ("zipcode", "postcode", "postalcode", "postal"),
    "country": ("countrycode",),
    "ipAddress": ("ip",),
    "leadSource": ("source",),
    "actionPlan": ("plan",),
    "salesCycle": ("cycle", "stage"),
}


def fold(text: str) -> str:
    """Case, spaces and punctuation aside: "E-mail Address" and "email_address" are one."""
    return re.sub(r"[\W_]+", "", text.casefold())


@dataclass(frozen=True, slots=True)
class CustomColumn:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class ColumnGuess:
    """What the preview says of one column: the field it would fill, and close alternatives."""

    column: str
    field: str | None
    suggestions: list[str]


def field_names(custom: Sequence[CustomColumn]) -> list[str]:
    return [*CONTACT_FIELDS, *(CUSTOM_PREFIX + c.key for c in custom)]


def _lookup(custom: Sequence[CustomColumn]) -> dict[str, str]:
    """Folded header -> field. Field names and custom keys first: they win over aliases."""
    table: dict[str, str] = {}
    for api in CONTACT_FIELDS:
        table.setdefault(fold(api), api)
    for c in custom:
        table.setdefault(fold(c.key), CUSTOM_PREFIX + c.key)
        table.setdefault(fold(CUSTOM_PREFIX + c.key), CUSTOM_PREFIX + c.key)
    for c in custom:
        table.setdefault(fold(c.label), CUSTOM_PREFIX + c.key)
    for api, aliases in ALIASES.items():
        for alias in aliases:
            table.setdefault(alias, api)
    return table


def suggest(header: str, custom: Sequence[CustomColumn], taken: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """The closest field names to an unknown header (by their folded spellings and aliases)."""
    table = _lookup(custom)
    close = difflib.get_close_matches(fold(header), list(table), n=10, cutoff=0.6)
    found: list[str] = []
    for spelling in close:
        name = table[spelling]
        if name not in found and name not in taken:
            found.append(name)
    return found[:MAX_SUGGESTIONS]


def guess(header: Sequence[str], custom: Sequence[CustomColumn]) -> list[ColumnGuess]:
    """The automatic mapping: each column's field (None: no match, or the field is already
    filled by an earlier column), with suggestions for those left without one."""
    table = _lookup(custom)
    taken: set[str] = set()
    guesses = []
    for column in header:
        match = table.get(fold(column))
        if match is not None and match not in taken:
            taken.add(match)
            guesses.append(ColumnGuess(column, match, []))
        else:
            guesses.append(ColumnGuess(column, None, []))
    return [
        g if g.field is not None else ColumnGuess(g.column, None, suggest(g.column, custom, taken))
        for g in guesses
    ]


def resolve(
    header: Sequence[str], mapping: Mapping[str, str | None] | None, custom: Sequence[CustomColumn]
) -> dict[str, str]:
    """column -> field for the columns that are imported. An explicit mapping names columns of
    the file and known fields, each field at most once; columns it leaves out are matched
    automatically (a column mapped to None is skipped)."""
    known = set(field_names(custom))
    columns = {c.casefold(): c for c in header}
    chosen: dict[str, str] = {}
    explicit: set[str] = set()
    for column, field in (mapping or {}).items():
        actual = columns.get(column.strip().casefold())
        if actual is None:
            raise BadInput(
                f"mapping names the column {column!r}, which the file does not have; its columns: "
                + ", ".join(header[:30]),
                field="mapping",
            )
        explicit.add(actual)
        if field is None or field == "":
            continue
        if field not in known:
            hint = suggest(field, custom)
            raise BadInput(
                f"mapping: {field!r} is not an importable field"
                + (f" (did you mean {', '.join(hint)}?)" if hint else "")
                + "; use a createContact input field such as firstName, email, phone, city, or "
                "customField:<key>",
                field="mapping",
            )
        if field in chosen.values():
            raise BadInput(f"mapping: {field!r} is given to two columns", field="mapping")
        chosen[actual] = field
    for g in guess([c for c in header if c not in explicit], custom):
        if g.field is not None and g.field not in chosen.values():
            chosen[g.column] = g.field
    if not chosen:
        raise BadInput(
            "no column of the file matches a contact field: name the columns as the template does "
            "(importTemplate) or give a mapping",
            field="mapping",
        )
    return chosen
