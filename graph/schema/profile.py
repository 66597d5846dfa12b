"""The card's header summary and expanded profile (A4, A5): `Contact.opportunity` and
`Contact.profile`, and the `profile` input of createContact / updateContact.

The profile's type, input and enums are derived from crm/models/profile.py's PROFILE_FIELDS
(one declaration for the table, the service, the journey and the API).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from crm.errors import NotFound
from crm.models.profile import PROFILE_FIELDS, ProfileField, ProfileKind
from crm.services.profile import effective_age
from graph.context import Info
from graph.resolvers.profile_loaders import OpportunityRow
from graph.resolvers.reads import Row
from graph.schema.common import Money


@strawberry.input(description="An amount of money; the currency defaults to the account's.")
class MoneyInput:
    amount: Decimal = strawberry.field(
        description='Exact decimal string ("1999.50") or number; 0 or more, below 10^14, with at most '
        "the currency's decimal places."
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code in any case; null or left out: the account's currency."
    )


@strawberry.type(description="A date to remember, with its label (e.g. wedding).")
class Anniversary:
    date: dt.date
    label: str | None


@strawberry.input(description="A date to remember; null for the whole anniversary clears it.")
class AnniversaryInput:
    date: dt.date = strawberry.field(description="YYYY-MM-DD.")
    label: str | None = strawberry.field(
        default=None, description="What the date is, e.g. Wedding; at most 60 characters."
    )


ENUMS: dict[str, Any] = {
    spec.enum: strawberry.enum(
        Enum(spec.enum, {choice: choice for choice in spec.choices}),  # type: ignore[misc]
        description=spec.description,
    )
    for spec in PROFILE_FIELDS
    if spec.kind is ProfileKind.ENUM
}
HomeOwnerStatus = ENUMS["HomeOwnerStatus"]
MaritalStatus = ENUMS["MaritalStatus"]
Education = ENUMS["Education"]
Gender = ENUMS["Gender"]

_SCALARS: dict[ProfileKind, Any] = {
    ProfileKind.TEXT: str,
    ProfileKind.URL: str,
    ProfileKind.INT: int,
    ProfileKind.BOOL: bool,
    ProfileKind.DATE: dt.date,
}
AGE_HELP = (
    "Age in years: derived from birthDate when there is one (whole years on today's UTC date), "
    "else the age given alone."
)


def _output_type(spec: ProfileField) -> Any:
    if spec.kind is ProfileKind.MONEY:
        return Money
    if spec.kind is ProfileKind.ANNIVERSARY:
        return Anniversary
    if spec.kind is ProfileKind.ENUM:
        return ENUMS[spec.enum]
    return _SCALARS[spec.kind]


def _input_type(spec: ProfileField) -> Any:
    if spec.kind is ProfileKind.MONEY:
        return MoneyInput
    if spec.kind is ProfileKind.ANNIVERSARY:
        return AnniversaryInput
    return _output_type(spec)


def _declared(name: str, kind: str, default: Any, describe: Any) -> type:
    annotations = {}
    namespace: dict[str, Any] = {"__module__": __name__}
    for spec in PROFILE_FIELDS:
        annotations[spec.name] = (_output_type(spec) if kind == "type" else _input_type(spec)) | None
        namespace[spec.name] = strawberry.field(default=default, description=describe(spec))
    namespace["__annotations__"] = annotations
    return type(name, (), namespace)


ContactProfile = strawberry.type(
    _declared("ContactProfile", "type", None, lambda s: AGE_HELP if s.api == "age" else s.description),
    description="The expanded profile; every field is null until set (updateContact's profile).",
)
ProfileInput = strawberry.input(
    _declared(
        "ProfileInput",
        "input",
        strawberry.UNSET,
        lambda s: f"{s.description} Left out: unchanged; null clears it.",
    ),
    description="Profile fields to change: only those given change, null clears one. Each change "
    'is journaled as "profile.<field>".',
)


def _value(spec: ProfileField, row: Row) -> Any:
    if spec.kind is ProfileKind.MONEY:
        amount = row[f"{spec.name}_amount"]
        return None if amount is None else Money.of(amount, row[f"{spec.name}_currency"])
    if spec.kind is ProfileKind.ANNIVERSARY:
        when = row[f"{spec.name}_date"]
        return None if when is None else Anniversary(date=when, label=row[f"{spec.name}_label"])
    value = row[spec.name]
    if spec.kind is ProfileKind.ENUM and value is not None:
        return ENUMS[spec.enum](value)
    return value


def profile_of(row: Row | None) -> Any:
    if row is None:
        return ContactProfile()
    values = {spec.name: _value(spec, row) for spec in PROFILE_FIELDS}
    values["age"] = effective_age(row["birth_date"], row["age"])
    return ContactProfile(**values)


def profile_values(source: Any) -> dict[str, Any]:
    """The ProfileInput fields the client sent, by API name, for crm.services.profile."""
    values = {}
    for spec in PROFILE_FIELDS:
        value = getattr(source, spec.name)
        if value is not strawberry.UNSET:
            values[spec.api] = value
    return values


@strawberry.type(
    description="The deals summed up for the header, in the account's currency (viewer.account."
    "currency); deals in another currency are left out of every figure and counted in excludedDeals."
)
class Opportunity:
    deal_size: Money = strawberry.field(
        description="Total amount of the deals that are not LOST (OPEN + WON)."
    )
    quoted: Money = strawberry.field(description="Total amount of the OPEN deals.")
    closed: Money = strawberry.field(description="Total amount of the WON deals.")
    likelihood: int | None = strawberry.field(
        description="Percent: the OPEN deals' likelihoods weighted by amount, sum(amount * likelihood) / "
        "sum(amount) over the OPEN deals that have one, rounded half up; null when none has one or "
        "their amounts add up to 0."
    )
    close_date: dt.date | None = strawberry.field(
        description="The earliest closeDate of the OPEN deals; null when none has one."
    )
    excluded_deals: int = strawberry.field(
        description="Deals in another currency than the account's, left out of the figures above."
    )

    @classmethod
    def of(cls, row: OpportunityRow) -> Opportunity:
        currency = row.currency
        return cls(
            deal_size=Money.of(row.deal_size, currency),
            quoted=Money.of(row.quoted, currency),
            closed=Money.of(row.closed, currency),
            likelihood=row.likelihood,
            close_date=row.close_date,
            excluded_deals=row.excluded_deals,
        )


async def resolve_opportunity(info: Info, contact_id: int) -> Opportunity:
    row = await info.context.loaders.opportunity.load(contact_id)
    if row is None:
        raise NotFound(f"no contact with id {contact_id} in this account")
    return Opportunity.of(row)


async def resolve_profile(info: Info, contact_id: int) -> Any:
    return profile_of(await info.context.loaders.profile.load(contact_id))
