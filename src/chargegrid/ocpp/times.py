"""Timestamps as OCPP writes them, both versions (RFC 3339 date-times)."""

from __future__ import annotations

from datetime import UTC, datetime

from chargegrid.ocpp.errors import ErrorCode, OcppCallError

# What a charger may date anything with: the year as written (in its own offset) from
# 2000 to 2099. Outside it a date-time is a charger's broken clock or a fuzzer, and near
# the ends of Python's range (years 1 and 9999) it cannot even be turned into UTC.
EARLIEST_YEAR = 2000
LATEST_YEAR = 2099


def ocpp_time(value: datetime) -> str:
    """UTC with millisecond precision and a ``Z``: the form every charger parses."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def parse_timestamp(text: str, field: str = "timestamp") -> datetime:
    """ISO 8601 with a zone (the schema already checked the shape); naive means UTC.

    Anything that is not a date-time, or dated outside the years 2000-2099, is a
    PropertyConstraintViolation naming ``field``."""
    try:
        value = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        raise OcppCallError(
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"{field}: not a date-time", {"field": field}
        ) from None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise OcppCallError(
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
            f"{field}: {text!r} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR}",
            {"field": field},
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
