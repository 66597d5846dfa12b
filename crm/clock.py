"""One place that tells the time, always timezone-aware UTC."""

from datetime import UTC, datetime

# The times the API accepts: wide enough for any birth date, contract or reminder a CRM holds,
# narrow enough that adding a duration or converting an offset can never leave datetime's
# range (year 9999 plus an hour overflows), and inside both databases' timestamp types.
MIN_YEAR = 1900
MAX_YEAR = 2200
EARLIEST = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
LATEST = datetime(MAX_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
RANGE_TEXT = f"between {MIN_YEAR}-01-01 and {MAX_YEAR}-12-31 (UTC)"


def utcnow() -> datetime:
    return datetime.now(UTC)


def out_of_range(value: datetime) -> bool:
    """True when the time lies outside the accepted range. Never converts before checking the
    year, so 9999-12-31T23:59:59-12:00 is answered, not an OverflowError."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return True
    if value.tzinfo is None:
        return False
    return not EARLIEST <= value.astimezone(UTC) <= LATEST


def as_utc(value: datetime, field: str | None = None) -> datetime:
    """Refuse naive datetimes instead of guessing their zone, and times outside the range."""
    from crm.errors import BadInput

    if value.tzinfo is None:
        raise BadInput(
            f"{field or 'times'} must carry a timezone offset, e.g. 2026-01-31T15:00:00Z", field=field
        )
    if out_of_range(value):
        raise BadInput(f"{field or 'times'} must be {RANGE_TEXT}, got {value.isoformat()}", field=field)
    return value.astimezone(UTC)
