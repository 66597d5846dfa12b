"""The region national phone numbers are read in, per account.

`Account.region` (ISO 3166-1 alpha-2, set by admins with `updateAccountSettings`) is the region
of an account's phone numbers written without a country code ("020 7946 0000" in GB,
"415.555.0123" in US). Null means the server's `DOSSIER_DEFAULT_REGION`.

Every place that parses a phone for an account asks `phone_region(account_id)`. The set value is
cached per process for `TTL_SECONDS`, so a busy path (createContact, contactByPhone, inbound
SMS) does not pay a SELECT per call; `updateAccountSettings` refreshes this process's entry at
once, other worker processes see the change within `TTL_SECONDS`. A new database (open_database)
empties the cache.
"""

from __future__ import annotations

import time

import phonenumbers

from crm.errors import BadInput
from crm.models import Account
from crm.wiring import wiring

TTL_SECONDS = 30.0
EXAMPLES = "e.g. US, GB, DE, FR, AU"

# account id -> (monotonic expiry, the account's own region or None)
_cache: dict[int, tuple[float, str | None]] = {}


def clean_region(value: str | None, field: str = "region") -> str | None:
    """An ISO 3166-1 alpha-2 code phonenumbers knows, upper-cased; None/blank clears it."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise BadInput(
            f"{field} {value[:20]!r} is not a region phone numbers can be read in; give an "
            f"ISO 3166-1 alpha-2 country code ({EXAMPLES}), or null for the server's default",
            field=field,
        )
    return code


def effective(region: str | None) -> str:
    """The region national numbers are read in: the account's own, else the server's."""
    return region or wiring.default_region


async def phone_region(account_id: int) -> str:
    """The region national phone numbers of this account are read in."""
    now = time.monotonic()
    hit = _cache.get(account_id)
    if hit is not None and hit[0] > now:
        return effective(hit[1])
    found = await Account.filter(id=account_id).values_list("region", flat=True)
    region = found[0] if found else None
    _cache[account_id] = (now + TTL_SECONDS, region)
    return effective(region)


def remember(account_id: int, region: str | None) -> None:
    """The account's region has just changed (updateAccountSettings committed it)."""
    _cache[account_id] = (time.monotonic() + TTL_SECONDS, region)


def clear() -> None:
    _cache.clear()
