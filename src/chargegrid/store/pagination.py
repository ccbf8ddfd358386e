"""Keyset pagination: an opaque cursor that encodes the last key of a page."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar

from chargegrid.domain.errors import InvalidValue

T = TypeVar("T")

MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidValue.of("cursor", "not a cursor this server handed out") from exc


def id_after(cursor: str | None) -> int | None:
    """The numeric id a cursor of an id-ordered list holds (None: from the start)."""
    if cursor is None:
        return None
    try:
        return int(decode_cursor(cursor))
    except ValueError as exc:
        raise InvalidValue.of("cursor", "not a cursor this server handed out") from exc
