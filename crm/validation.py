"""Input normalisation shared by the services: every value is checked before a transaction opens."""

from __future__ import annotations

import ipaddress
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from crm.errors import BadInput


def clean_text(value: str | None, field: str, *, max_length: int, required: bool = False) -> str | None:
    """Trim; empty means "no value"; too long is refused rather than cut."""
    if value is None:
        if required:
            raise BadInput(f"{field} is required", field=field)
        return None
    value = value.strip()
    if not value:
        if required:
            raise BadInput(f"{field} cannot be empty", field=field)
        return None
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise BadInput(f"{field} cannot contain NUL (\\x00) characters", field=field)
    if len(value) > max_length:
        raise BadInput(f"{field} is {len(value)} characters long; the limit is {max_length}", field=field)
    return value


def clean_phone(value: str | None, field: str, region: str) -> str | None:
    """Parse a phone number (national numbers in `region`) and return it as E.164."""
    if value is None or not value.strip():
        return None
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise BadInput(f"{field} {value!r} is not a phone number ({exc})", field=field) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise BadInput(
            f"{field} {value!r} is not a valid phone number; give it with its country code, "
            f"e.g. +14155550123",
            field=field,
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def clean_email(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadInput(f"{field} {value!r} is not a valid email address: {exc}", field=field) from exc
    return result.normalized


def clean_ip(value: str | None, field: str = "ipAddress") -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError as exc:
        raise BadInput(f"{field} {value!r} is not an IPv4 or IPv6 address", field=field) from exc


def clean_country(value: str | None, field: str = "country") -> str | None:
    """Accept an ISO 3166 code or an English name; store the alpha-2 code."""
    if value is None or not value.strip():
        return None
    raw = value.strip()
    country = pycountry.countries.get(alpha_2=raw.upper()) if len(raw) == 2 else None
    if country is None and len(raw) == 3:
        country = pycountry.countries.get(alpha_3=raw.upper())
    if country is None:
        try:
            country = pycountry.countries.lookup(raw)
        except LookupError:
            country = None
    if country is None:
        raise BadInput(f"{field} {value!r} is not a country; use an ISO code such as US or DE", field=field)
    return country.alpha_2


def clean_currency(value: str, field: str = "currency") -> str:
    code = (value or "").strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise BadInput(f"{field} {value!r} is not an ISO 4217 currency code such as USD or EUR", field=field)
    return code


MAX_AMOUNT = Decimal("100000000000000")  # 10^14, within the column's 18 digits with 4 decimals


def clean_amount(value: Decimal, field: str = "amount") -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise BadInput(f"{field} {value!r} is not a number", field=field) from exc
    if not amount.is_finite():
        raise BadInput(f"{field} must be a finite number", field=field)
    if amount < 0:
        raise BadInput(f"{field} cannot be negative", field=field)
    if amount >= MAX_AMOUNT:
        raise BadInput(f"{field} must be below {MAX_AMOUNT}", field=field)
    if -amount.as_tuple().exponent > 4:  # type: ignore[operator]
        raise BadInput(f"{field} has more than 4 decimal places", field=field)
    return amount


def clean_url(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    raw = value.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInput(f"{field} must be an http(s) URL", field=field)
    if len(raw) > 1000:
        raise BadInput(f"{field} is longer than 1000 characters", field=field)
    return raw
