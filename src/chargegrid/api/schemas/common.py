"""Shared field types and the list envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
)

T = TypeVar("T")

# Strict: "16" or true is a wrong type, not 16 A. An int is fine where a float is asked.
Number = Annotated[float, Strict()]
Integer = Annotated[int, Strict()]
Amps = Annotated[float, Strict(), Field(ge=0, le=10000)]
# Writes only: a negative value clears an override (Zaptec's -1).
OverrideAmps = Annotated[float, Strict(), Field(ge=-1000, le=10000)]
Rotation = Annotated[str, Field(min_length=1, max_length=3, examples=["RST", "STR", "S"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _check_timezone(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError("not an IANA time zone, e.g. Europe/Copenhagen")
    return value


_TIMEZONES = frozenset(available_timezones()) | {"UTC"}
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_check_timezone)]


# Timestamps clients send: ISO 8601 text, from 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z
# inclusive. Outside that window no reading, expiry or schedule is meant (a clock that
# was never set says 1970, a fuzzer says year 1 or 9999), and at the edges of what
# datetime holds (0001-01-01T00:00:00+14:00) the conversion to UTC overflows. Numbers
# are refused rather than read as Unix seconds: `0` is a mistake, not 1970.
TIMESTAMP_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX = datetime(2100, 1, 1, tzinfo=UTC)


def _timestamp_text(value: Any) -> Any:
    if not isinstance(value, str | datetime):
        raise ValueError("an ISO 8601 date-time string, e.g. 2024-05-01T12:00:00Z")
    return value


def _in_window(value: datetime) -> datetime:
    # Compared as an aware time (naive means UTC); comparing never converts, so no
    # overflow. Past the check, the value converts to UTC safely.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not TIMESTAMP_MIN <= aware <= TIMESTAMP_MAX:
        raise ValueError("must be from 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z")
    return value


_WINDOW_DOC = "ISO 8601, from 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z"
# With a UTC offset (Z or +hh:mm), as API.md asks.
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_timestamp_text),
    AfterValidator(_in_window),
    Field(description=_WINDOW_DOC),
]
# A query's ``from``/``to``: the same window, so that an extreme offset
# (0001-01-01T00:00:00+00:01) is a 422 naming it, never an overflow converting it to UTC.
QueryTimestamp = Annotated[AwareDatetime, AfterValidator(_in_window)]
# Where a missing offset has always been taken as UTC (charging schedules).
LenientTimestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp_text),
    AfterValidator(_in_window),
    Field(description=_WINDOW_DOC + "; without an offset, UTC"),
]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def NotNull(**kwargs: Any) -> Any:
    """A PATCH field that may be left out (unchanged) but not sent as null.

    API.md: null resets a *nullable* field to its default. A field with no default to
    reset to (a name, a fuse rating, a reference that must exist) refuses null, and the
    OpenAPI document must say so: it shows the field as its plain type, without the
    ``default: null`` that would invite the null the server answers with 422.
    """
    return Field(None, json_schema_extra=_no_default, **kwargs)


class WriteModel(BaseModel):
    """A request body: unknown fields, non-finite numbers and NUL characters are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text holds neither U+0000 nor lone surrogates (which JSON's \ud800
        # escapes can produce); refuse them here rather than fail on INSERT.
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, str) and ("\x00" in text or not _is_utf8(text)):
                raise ValueError("must not contain NUL characters or lone surrogates")
        return value


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Timestamps(ReadModel):
    created_at: datetime
    updated_at: datetime


class PerPhase(BaseModel):
    l1: float
    l2: float
    l3: float


class ListOf(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = None


def columns_of(obj: object) -> dict[str, object]:
    """A mapped object's column values by attribute name, to build a response from."""
    table = obj.__table__  # type: ignore[attr-defined]
    return {c.key: getattr(obj, c.key) for c in table.columns}
