"""Custom field types: how a value arrives (JSON), is checked, stored and shown.

A value arrives as JSON and leaves as JSON. Per type (the README's table says the same):

- TEXT: a string, trimmed, at most 1,000 characters (newlines kept). Shown as given.
- NUMBER: a JSON number or a numeric string, at most 15 significant digits and 10 decimal places
  (so it survives any JSON reader's float exactly). Shown as a JSON number: an integer when it has
  no fraction (3, not 3.0), else the shortest float text (2.5).
- MONEY: {"amount": "1999.5", "currency": "EUR"}, or just the amount (a string or number) in the
  account's currency. The amount is exact, 0 or more, with no more decimal places than the
  currency has. Shown as {"amount": "1999.50", "currency": "EUR"}: the amount as a string in the
  currency's minor units (crm/money.py).
- DATE: "YYYY-MM-DD". Shown the same.
- DATETIME: ISO 8601 with a UTC offset or Z ("2026-12-06T09:30:00+01:00"); no offset is refused.
  Shown in UTC: "2026-12-06T08:30:00+00:00".
- BOOLEAN: true or false (not "true", not 1).
- SELECT: one of the field's options, exactly. Shown as the option.
- MULTI_SELECT: a list of the field's options, each at most once. Shown in the field's option order.
- URL: an http(s) URL with a host, at most 2,000 characters. Shown as given (trimmed).
- EMAIL: an address; shown normalised (the domain lowercased, as email-validator does).
- PHONE: a number, national ones read in the account's region (crm/regions.py); shown E.164.

An empty string and an empty list mean null (no value). Each refusal is BAD_USER_INPUT naming
the field's key (`extensions.key`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from crm import money
from crm import validation as v
from crm.errors import BadInput

MAX_TEXT = 1000
MAX_URL = 2000
MAX_DIGITS = 15
MAX_DECIMALS = 10
MAX_NUMBER = Decimal("1e15")  # |NUMBER| below this; MONEY below crm.validation.MAX_AMOUNT
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The typed columns of custom_field_value (crm/models/custom_fields.py).
VALUE_COLUMNS = (
    "value_text", "value_number", "value_currency", "value_date", "value_ts", "value_bool", "value_json",
)  # fmt: skip


class FieldType(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    MONEY = "MONEY"
    DATE = "DATE"
    DATETIME = "DATETIME"
    BOOLEAN = "BOOLEAN"
    SELECT = "SELECT"
    MULTI_SELECT = "MULTI_SELECT"
    URL = "URL"
    EMAIL = "EMAIL"
    PHONE = "PHONE"


CHOICE_TYPES = frozenset({FieldType.SELECT, FieldType.MULTI_SELECT})


class ValueError_(BadInput):
    """A custom field value refused: the message names the key, and so does `extensions.key`."""

    def __init__(self, key: str, message: str, field: str = "values") -> None:
        super().__init__(f"custom field {key!r}: {message}", field=field)
        self.details = {"key": key}


@dataclass(frozen=True, slots=True)
class Definition:
    """What checking a value needs of its field."""

    key: str
    type: FieldType
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """The account's settings a value is read in."""

    region: str
    currency: str


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _string(d: Definition, raw: Any, what: str, field: str) -> str | None:
    if not isinstance(raw, str):
        raise ValueError_(d.key, f"a {d.type.value} value is {what}, not {_type_name(raw)}", field)
    text = raw.strip()
    if not text:
        return None
    problem = v.unstorable_character(text)
    if problem is not None:
        raise ValueError_(d.key, f"the value cannot contain {problem}", field)
    return text


def _decimal(d: Definition, raw: Any, field: str, what: str = "a number") -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError_(d.key, f"the value must be {what}, not {_type_name(raw)}", field)
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ValueError_(d.key, "the value must be a finite number", field)
    text = repr(raw) if isinstance(raw, float) else str(raw).strip()
    if len(text) > 60:
        raise ValueError_(d.key, f"{v.quoted(text)} is too long to be {what}", field)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError_(d.key, f"{v.quoted(text)} is not {what}", field) from None
    if not number.is_finite():
        raise ValueError_(d.key, "the value must be a finite number", field)
    return number


def _number(d: Definition, raw: Any, field: str) -> Decimal:
    number = _decimal(d, raw, field)
    if abs(number) >= MAX_NUMBER:
        raise ValueError_(d.key, f"the number must be between -{MAX_NUMBER:f} and {MAX_NUMBER:f}", field)
    normal = number.normalize()
    places = money.decimal_places(normal)
    if places > MAX_DECIMALS:
        raise ValueError_(d.key, f"the number has {places} decimal places; at most {MAX_DECIMALS}", field)
    digits = len(normal.as_tuple().digits) if normal else 1
    if digits > MAX_DIGITS:
        raise ValueError_(
            d.key, f"the number has {digits} significant digits; at most {MAX_DIGITS} keep it exact", field
        )
    return normal if places else normal.quantize(Decimal(1))


def _money(d: Definition, raw: Any, ctx: Context, field: str) -> tuple[Decimal, str]:
    if isinstance(raw, dict):
        unknown = sorted(set(raw) - {"amount", "currency"})
        if unknown:
            raise ValueError_(
                d.key, f"a MONEY value takes amount and currency, not {', '.join(unknown)}", field
            )
        if raw.get("amount") is None:
            raise ValueError_(d.key, 'a MONEY value needs an amount, e.g. {"amount": "19.99"}', field)
        amount_raw, currency_raw = raw["amount"], raw.get("currency")
    else:
        amount_raw, currency_raw = raw, None
    what = 'an amount ("1999.50") or {"amount": "1999.50", "currency": "EUR"}'
    amount = _decimal(d, amount_raw, field, what)
    if currency_raw is None:
        currency = ctx.currency
    elif not isinstance(currency_raw, str):
        raise ValueError_(d.key, "currency must be an ISO 4217 code such as USD", field)
    else:
        try:
            currency = v.clean_currency(currency_raw, "currency")
        except BadInput as exc:
            raise ValueError_(d.key, exc.message, field) from None
    if amount < 0:
        raise ValueError_(d.key, "the amount cannot be negative", field)
    if amount >= v.MAX_AMOUNT:
        raise ValueError_(d.key, f"the amount must be below {v.MAX_AMOUNT}", field)
    try:
        money.check(amount, currency)
    except BadInput as exc:
        raise ValueError_(d.key, exc.message, field) from None
    return amount, currency


def _datetime(d: Definition, raw: Any, field: str) -> datetime | None:
    text = _string(d, raw, 'an ISO 8601 time with its offset ("2026-12-06T09:30:00Z")', field)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError_(
            d.key, f'{v.quoted(text)} is not an ISO 8601 time, e.g. "2026-12-06T09:30:00Z"', field
        ) from None
    if moment.tzinfo is None or len(text) < 16:
        raise ValueError_(
            d.key, f'{v.quoted(text)} has no UTC offset: add one, e.g. "{text[:19]}Z" or "+01:00"', field
        )
    return moment.astimezone(UTC)


def _date(d: Definition, raw: Any, field: str) -> date | None:
    text = _string(d, raw, 'a date "YYYY-MM-DD"', field)
    if text is None:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError_(
            d.key, f'{v.quoted(text)} is not a date "YYYY-MM-DD", e.g. "2026-12-06"', field
        ) from None


def _url(d: Definition, raw: Any, field: str) -> str | None:
    text = _string(d, raw, "an http(s) URL", field)
    if text is None:
        return None
    if len(text) > MAX_URL:
        raise ValueError_(d.key, f"the URL is {len(text)} characters long; at most {MAX_URL}", field)
    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in text)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError_(d.key, f'{v.quoted(text)} is not an http(s) URL, e.g. "https://example.com"', field)
    return text


def _options(d: Definition, raw: Any, field: str) -> list[str] | None:
    if not isinstance(raw, list):
        raise ValueError_(d.key, f"a MULTI_SELECT value is a list of options, not {_type_name(raw)}", field)
    if not raw:
        return None
    chosen = set()
    for item in raw:
        if not isinstance(item, str) or item not in d.options:
            raise ValueError_(d.key, _not_an_option(d, item), field)
        if item in chosen:
            raise ValueError_(d.key, f"{item!r} is given twice", field)
        chosen.add(item)
    return [option for option in d.options if option in chosen]


def _not_an_option(d: Definition, item: Any) -> str:
    shown = v.quoted(item) if isinstance(item, str) else _type_name(item)
    listed = ", ".join(repr(o) for o in d.options[:10]) + (", ..." if len(d.options) > 10 else "")
    return f"{shown} is not one of its options ({listed})"


def clean(d: Definition, raw: Any, ctx: Context, field: str = "values") -> dict[str, Any] | None:
    """The typed columns of a value (None: no value). Raises ValueError_ naming the key."""
    if raw is None:
        return None
    t = d.type
    if t is FieldType.TEXT:
        text = _string(d, raw, "a string", field)
        if text is not None and len(text) > MAX_TEXT:
            raise ValueError_(d.key, f"the text is {len(text)} characters long; at most {MAX_TEXT}", field)
        return None if text is None else {"value_text": text}
    if t is FieldType.NUMBER:
        return {"value_number": _number(d, raw, field)}
    if t is FieldType.MONEY:
        amount, currency = _money(d, raw, ctx, field)
        return {"value_number": amount, "value_currency": currency}
    if t is FieldType.DATE:
        day = _date(d, raw, field)
        return None if day is None else {"value_date": day}
    if t is FieldType.DATETIME:
        moment = _datetime(d, raw, field)
        return None if moment is None else {"value_ts": moment}
    if t is FieldType.BOOLEAN:
        if not isinstance(raw, bool):
            raise ValueError_(d.key, f"a BOOLEAN value is true or false, not {_type_name(raw)}", field)
        return {"value_bool": raw}
    if t is FieldType.SELECT:
        text = _string(d, raw, "one of its options", field)
        if text is None:
            return None
        if raw not in d.options:
            raise ValueError_(d.key, _not_an_option(d, raw), field)
        return {"value_text": raw}
    if t is FieldType.MULTI_SELECT:
        chosen = _options(d, raw, field)
        return None if chosen is None else {"value_json": chosen}
    if t is FieldType.URL:
        url = _url(d, raw, field)
        return None if url is None else {"value_text": url}
    if t is FieldType.EMAIL:
        text = _string(d, raw, "an email address", field)
        try:
            email = v.clean_email(text, "email")
        except BadInput as exc:
            raise ValueError_(d.key, exc.message, field) from None
        return None if email is None else {"value_text": email}
    text = _string(d, raw, "a phone number", field)
    try:
        phone = v.clean_phone(text, "phone", ctx.region)
    except BadInput as exc:
        raise ValueError_(d.key, exc.message, field) from None
    return None if phone is None else {"value_text": phone}


def _number_json(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


def shown(t: FieldType | str, row: Mapping[str, Any] | None) -> Any:
    """The JSON a stored value reads back as (see the module's table); None for no value."""
    if row is None:
        return None
    t = FieldType(t)
    if t is FieldType.NUMBER:
        number = row["value_number"]
        return None if number is None else _number_json(Decimal(number))
    if t is FieldType.MONEY:
        amount, currency = row["value_number"], row["value_currency"]
        if amount is None or currency is None:
            return None
        return {"amount": money.text(Decimal(amount), currency), "currency": currency}
    if t is FieldType.DATE:
        day = row["value_date"]
        return None if day is None else (day if isinstance(day, str) else day.isoformat())
    if t is FieldType.DATETIME:
        moment = row["value_ts"]
        if moment is None:
            return None
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        return moment.astimezone(UTC).isoformat()
    if t is FieldType.BOOLEAN:
        flag = row["value_bool"]
        return None if flag is None else bool(flag)
    if t is FieldType.MULTI_SELECT:
        return row["value_json"] or None
    return row["value_text"]


def stored(columns: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every typed column, the unused ones None: what an upsert writes."""
    return {column: (columns or {}).get(column) for column in VALUE_COLUMNS}


def options_of(value: Any) -> Sequence[str]:
    return tuple(value or ())
