"""One place that tells the time, always timezone-aware UTC."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime, field: str | None = None) -> datetime:
    """Refuse naive datetimes instead of guessing their zone."""
    if value.tzinfo is None:
        from crm.errors import BadInput

        raise BadInput(
            f"{field or 'times'} must carry a timezone offset, e.g. 2026-01-31T15:00:00Z", field=field
        )
    return value.astimezone(UTC)
