"""Shared field types and the list envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, field_validator

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
