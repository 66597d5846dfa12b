"""The expanded profile (A5): validation and writes, driven by crm/models/profile.py's declaration.

updateContact / createContact take `profile` as a partial mapping by API name: only the keys
given change, None clears one. Each changed field is a journey change keyed "profile.<name>"
in the contact's CONTACT_UPDATED (or CONTACT_CREATED) entry, beside identity changes.

Age: `birthDate` is the truth when known, and the card's age is derived from it (whole years on
today's UTC date). `age` alone may be stored for a contact whose birth date is unknown; giving
`age` while a birth date is (or is being) set is refused, and setting a birth date clears a
stored age (journaled as profile.age → null).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from crm import money
from crm import validation as v
from crm.clock import utcnow
from crm.errors import BadInput
from crm.models import Contact
from crm.models.profile import (
    ANNIVERSARY_LABEL_MAX,
    PROFILE_BY_API,
    PROFILE_COLUMNS,
    ContactProfile,
    ProfileField,
    ProfileKind,
)
from crm.uow import UnitOfWork

Money = tuple[Decimal, str]
Anniversary = tuple[date, str | None]


def age_on(birth_date: date, today: date) -> int:
    """Whole years from `birth_date` to `today`."""
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def effective_age(birth_date: date | None, age: int | None, today: date | None = None) -> int | None:
    """The card's age: derived from the birth date when there is one, else the stored age."""
    if birth_date is not None:
        return age_on(birth_date, today or utcnow().date())
    return age


def _field_value(raw: Any, key: str) -> Any:
    """A value from a mapping (a service caller) or an input object (GraphQL)."""
    return raw.get(key) if isinstance(raw, Mapping) else getattr(raw, key, None)


def _date(raw: Any, field: str) -> date:
    if isinstance(raw, date) and not hasattr(raw, "hour"):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise BadInput(f"{field} must be a date written YYYY-MM-DD", field=field)


def _money(raw: Any, field: str, default_currency: str) -> Money:
    amount = _field_value(raw, "amount")
    if amount is None:
        raise BadInput(f"{field}.amount is required (null clears the whole {field})", field=field)
    currency_raw = _field_value(raw, "currency")
    currency = (
        default_currency if currency_raw is None else v.clean_currency(currency_raw, f"{field}.currency")
    )
    cleaned = v.clean_amount(amount, f"{field}.amount")
    money.check(cleaned, currency, f"{field}.amount")
    return cleaned, currency


def _url(raw: Any, spec: ProfileField) -> str | None:
    if not isinstance(raw, str):
        raise BadInput(f"{spec.api} must be a URL", field=spec.api)
    url = v.clean_url(raw, spec.api)
    if url is None:
        return None
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not any(host == allowed or host.endswith("." + allowed) for allowed in spec.hosts):
        names = " or ".join(spec.hosts)
        raise BadInput(f"{spec.api} must be a link on {names}, not {v.quoted(host)}", field=spec.api)
    return url


def clean_value(spec: ProfileField, raw: Any, default_currency: str) -> Any:
    """One profile field's value, validated and normalised; None clears it."""
    if raw is None:
        return None
    kind, field = spec.kind, spec.api
    if isinstance(raw, Enum):
        raw = raw.value
    if kind is ProfileKind.TEXT:
        if not isinstance(raw, str):
            raise BadInput(f"{field} must be text", field=field)
        return v.clean_text(raw, field, max_length=spec.max_length)
    if kind is ProfileKind.INT:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise BadInput(f"{field} must be a whole number", field=field)
        if not spec.minimum <= raw <= spec.maximum:
            raise BadInput(
                f"{field} must be between {spec.minimum} and {spec.maximum}, not {raw}", field=field
            )
        return raw
    if kind is ProfileKind.BOOL:
        if not isinstance(raw, bool):
            raise BadInput(f"{field} must be true or false", field=field)
        return raw
    if kind is ProfileKind.DATE:
        return _date(raw, field)
    if kind is ProfileKind.ENUM:
        value = str(raw).strip().upper()
        if value not in spec.choices:
            raise BadInput(
                f"{field} must be one of {', '.join(spec.choices)}, not {v.quoted(str(raw))}", field=field
            )
        return value
    if kind is ProfileKind.URL:
        return _url(raw, spec)
    if kind is ProfileKind.MONEY:
        return _money(raw, field, default_currency)
    # ANNIVERSARY
    when = _field_value(raw, "date")
    if when is None:
        raise BadInput(f"{field}.date is required (null clears the whole {field})", field=field)
    label = _field_value(raw, "label")
    if label is not None and not isinstance(label, str):
        raise BadInput(f"{field}.label must be text", field=field)
    return _date(when, f"{field}.date"), v.clean_text(
        label, f"{field}.label", max_length=ANNIVERSARY_LABEL_MAX
    )


def clean_profile(values: Mapping[str, Any], default_currency: str) -> dict[str, Any]:
    """A partial profile by API name (netWorth, birthDate, ...), validated; keys it leaves out
    stay as they are. Money without a currency is in `default_currency` (the account's)."""
    cleaned: dict[str, Any] = {}
    for api, raw in values.items():
        spec = PROFILE_BY_API.get(api)
        if spec is None:
            raise BadInput(f"the profile has no field {v.quoted(api)}", field="profile")
        cleaned[api] = clean_value(spec, raw, default_currency)
    birth = cleaned.get("birthDate")
    if birth is not None and birth > utcnow().date():
        raise BadInput("birthDate cannot be in the future", field="birthDate")
    return cleaned


def stored_value(spec: ProfileField, row: Any) -> Any:
    """A field's value as `clean_value` returns it, read from a profile row (or None)."""
    if row is None:
        return None
    if spec.kind is ProfileKind.MONEY:
        amount = getattr(row, f"{spec.name}_amount")
        return None if amount is None else (Decimal(amount), getattr(row, f"{spec.name}_currency"))
    if spec.kind is ProfileKind.ANNIVERSARY:
        when = getattr(row, f"{spec.name}_date")
        return None if when is None else (when, getattr(row, f"{spec.name}_label"))
    return getattr(row, spec.name)


def put_value(spec: ProfileField, row: Any, value: Any) -> None:
    """Set one cleaned value on a profile row (its one or two columns)."""
    if spec.kind is ProfileKind.MONEY:
        amount, currency = value if value is not None else (None, None)
        setattr(row, f"{spec.name}_amount", amount)
        setattr(row, f"{spec.name}_currency", currency)
    elif spec.kind is ProfileKind.ANNIVERSARY:
        when, label = value if value is not None else (None, None)
        setattr(row, f"{spec.name}_date", when)
        setattr(row, f"{spec.name}_label", label)
    else:
        setattr(row, spec.name, value)


def journal_value(spec: ProfileField, value: Any) -> Any:
    """A value as the journey (and hooks) write it: JSON, money in its minor units."""
    if value is None:
        return None
    if spec.kind is ProfileKind.MONEY:
        amount, currency = value
        return {"amount": money.text(amount, currency), "currency": currency}
    if spec.kind is ProfileKind.ANNIVERSARY:
        when, label = value
        return {"date": when.isoformat(), "label": label}
    if spec.kind is ProfileKind.DATE:
        return value.isoformat()
    return value


def _same(spec: ProfileField, before: Any, after: Any) -> bool:
    if spec.kind is ProfileKind.MONEY and before is not None and after is not None:
        return before[0] == after[0] and before[1] == after[1]
    return before == after


async def apply_profile(
    uow: UnitOfWork, contact: Contact, cleaned: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """Write the cleaned profile values (the row is made by the first write); the journey's
    changes, keyed "profile.<name>". The contact must be saved (it has an id)."""
    if not cleaned:
        return {}
    row = await ContactProfile.filter(contact_id=contact.id).using_db(uow.conn).first()
    wanted = dict(cleaned)
    birth = wanted.get("birthDate", stored_value(PROFILE_BY_API["birthDate"], row))
    if wanted.get("age") is not None and birth is not None:
        raise BadInput(
            "age is derived from birthDate while one is set: clear birthDate (null) to give an age alone",
            field="age",
        )
    if wanted.get("birthDate") is not None and "age" not in wanted:
        wanted["age"] = None  # the birth date decides the age from now on
    changes: dict[str, list[Any]] = {}
    touched: list[tuple[ProfileField, Any]] = []
    for api, value in wanted.items():
        spec = PROFILE_BY_API[api]
        before = stored_value(spec, row)
        if not _same(spec, before, value):
            changes[spec.journey_key] = [journal_value(spec, before), journal_value(spec, value)]
            touched.append((spec, value))
    if not touched:
        return {}
    if row is None:
        row = ContactProfile(contact_id=contact.id, **dict.fromkeys(PROFILE_COLUMNS))
    for spec, value in touched:
        put_value(spec, row, value)
    await row.save(using_db=uow.conn)
    return changes
