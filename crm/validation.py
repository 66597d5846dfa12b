"""Input normalisation shared by the services: every value is checked before a transaction opens."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from crm.errors import BadInput

# Characters no stored text may hold: NUL (PostgreSQL text cannot store it) and lone UTF-16
# surrogates (not characters at all: neither database driver can encode them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Characters that make one name look like another on a shared card: C0 and C1 controls
# (tabs and newlines included: a name is one line), zero-width characters, and the bidi
# embeddings, overrides and isolates that reorder what the reader sees (U+202E turns
# "Ada Smith" into a name displayed backwards).
_SPOOFING = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]")
# The person-facing identity fields, by the name the services give them: who a contact,
# user or account is. Free text (notes, message bodies, answers, reasons) keeps its newlines.
IDENTITY_TEXT_FIELDS = frozenset(
    {"firstName", "lastName", "businessName", "title", "contactType"}
    | {"street", "city", "state", "zip", "name"}
)


def unstorable_character(value: str) -> str | None:
    """A description of the first character no stored text may hold, or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char = found.group()
    return "NUL (\\x00)" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"


def check_storable(value: str, field: str) -> None:
    problem = unstorable_character(value)
    if problem is not None:
        raise BadInput(f"{field} cannot contain {problem}", field=field)


def check_identity_text(value: str, field: str) -> None:
    """Refuse control, zero-width and bidi-override characters in a name-like field."""
    found = _SPOOFING.search(value)
    if found is not None:
        raise BadInput(
            f"{field} cannot contain the invisible or control character U+{ord(found.group()):04X}; "
            "names and addresses take printable text on one line",
            field=field,
        )


def clean_text(
    value: str | None, field: str, *, max_length: int, required: bool = False, identity: bool | None = None
) -> str | None:
    """Trim; empty means "no value"; too long is refused rather than cut. `identity` (by
    default: whether `field` is one of IDENTITY_TEXT_FIELDS) also refuses invisible and
    control characters."""
    if value is None:
        if required:
            raise BadInput(f"{field} is required", field=field)
        return None
    value = value.strip()
    if not value:
        if required:
            raise BadInput(f"{field} cannot be empty", field=field)
        return None
    check_storable(value, field)
    if identity if identity is not None else field in IDENTITY_TEXT_FIELDS:
        check_identity_text(value, field)
    if len(value) > max_length:
        raise BadInput(f"{field} is {len(value)} characters long; the limit is {max_length}", field=field)
    return value


# Longest input each parser is given. Parsing costs time on long input (1 MB took email-validator
# 240 ms) and the refusals quote the value: checked first, and said without quoting it.
MAX_PHONE_INPUT = 64  # "+1 (415) 555-0123 ext. 12345" is 28
MAX_EMAIL_INPUT = 320  # RFC 5321 paths; email-validator itself refuses over 254 with its reason
MAX_IP_INPUT = 64  # the longest IPv6 text with a zone is ~50
MAX_COUNTRY_INPUT = 100  # English names ("South Georgia and the South Sandwich Islands": 44)
MAX_CURRENCY_INPUT = 20


def shortened(value: str, limit: int = 60) -> str:
    """A client's value as an error message shows it: cut short, so a megabyte of input never
    comes back as a megabyte of error."""
    return value if len(value) <= limit else value[:limit] + "…"


def quoted(value: str, limit: int = 60) -> str:
    return repr(shortened(value, limit))


def check_length(value: str, field: str, limit: int, what: str) -> None:
    if len(value) > limit:
        raise BadInput(f"{field} is {len(value)} characters long; {what} has at most {limit}", field=field)


def clean_phone(value: str | None, field: str, region: str) -> str | None:
    """Parse a phone number (national numbers in `region`) and return it as E.164."""
    if value is None or not value.strip():
        return None
    check_length(value.strip(), field, MAX_PHONE_INPUT, "a phone number")
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
    check_length(value.strip(), field, MAX_EMAIL_INPUT, "an email address")
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadInput(f"{field} {value!r} is not a valid email address: {exc}", field=field) from exc
    return result.normalized


def clean_ip(value: str | None, field: str = "ipAddress") -> str | None:
    if value is None or not value.strip():
        return None
    check_length(value.strip(), field, MAX_IP_INPUT, "an IP address")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError as exc:
        raise BadInput(f"{field} {value!r} is not an IPv4 or IPv6 address", field=field) from exc


def clean_country(value: str | None, field: str = "country") -> str | None:
    """Accept an ISO 3166 code or an English name; store the alpha-2 code."""
    if value is None or not value.strip():
        return None
    raw = value.strip()
    check_length(raw, field, MAX_COUNTRY_INPUT, "a country")
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
    check_length((value or "").strip(), field, MAX_CURRENCY_INPUT, "a currency code")
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
    check_storable(raw, field)
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInput(f"{field} must be an http(s) URL", field=field)
    if len(raw) > 1000:
        raise BadInput(f"{field} is longer than 1000 characters", field=field)
    return raw
