"""Timestamps as OCPP writes them, both versions (RFC 3339 date-times)."""

from __future__ import annotations

from datetime import UTC, datetime

from chargegrid.ocpp.errors import ErrorCode, OcppCallError


def ocpp_time(value: datetime) -> str:
    """UTC with millisecond precision and a ``Z``: the form every charger parses."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def parse_timestamp(text: str, field: str = "timestamp") -> datetime:
    """ISO 8601 with a zone (the schema already checked the shape); naive means UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OcppCallError(
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"{field}: not a date-time", {"field": field}
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
