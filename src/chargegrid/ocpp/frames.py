"""OCPP-J frames: CALL ``[2, id, action, {..}]``, CALLRESULT ``[3, id, {..}]``,
CALLERROR ``[4, id, code, description, {details}]``.

Parsing is orjson plus a handful of shape checks; anything malformed becomes a
:class:`FrameError` that carries the CallError to answer with, so the connection can
reply and keep going instead of dropping the charger.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import orjson

from chargegrid.ocpp.errors import ErrorCode

CALL = 2
CALLRESULT = 3
CALLERROR = 4

# A frame larger than this is refused with a CallError (the socket's own hard limit is
# larger, so the charger still gets an answer rather than a closed connection).
MAX_FRAME_BYTES = 64 * 1024
# OCPP-J: the unique id is at most 36 characters.
MAX_UNIQUE_ID = 36
UNKNOWN_ID = "-1"

_LEADING_ID = re.compile(rb'^\s*\[\s*2\s*,\s*"([^"\\]{1,36})"')


# NamedTuples: one is built for every frame, at a third of a frozen dataclass's cost.
class Call(NamedTuple):
    unique_id: str
    action: str
    payload: dict[str, Any]


class CallResult(NamedTuple):
    unique_id: str
    payload: dict[str, Any]


class CallError(NamedTuple):
    unique_id: str
    code: str
    description: str
    details: Any


Frame = Call | CallResult | CallError


class FrameError(Exception):
    """A frame we cannot take; ``unique_id`` is what to answer to (``"-1"`` if unknown).

    ``answer`` is False for broken replies (type 3/4): OCPP-J never answers those.
    """

    def __init__(
        self, code: ErrorCode, description: str, unique_id: str = UNKNOWN_ID, answer: bool = True
    ) -> None:
        super().__init__(f"{code.value}: {description}")
        self.code = code
        self.description = description
        self.unique_id = unique_id
        self.answer = answer


def _leading_call_id(raw: bytes) -> str:
    match = _LEADING_ID.match(raw[:64])
    return match.group(1).decode("utf-8", "replace") if match else UNKNOWN_ID


def parse_frame(raw: bytes | str) -> Frame:
    """Decode one text frame or raise :class:`FrameError`."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_FRAME_BYTES:
        raise FrameError(
            ErrorCode.FORMATION_VIOLATION,
            f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}",
            _leading_call_id(data),
        )
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FrameError(
            ErrorCode.FORMATION_VIOLATION, f"not JSON: {exc}", _leading_call_id(data)
        ) from None
    if not isinstance(msg, list) or len(msg) < 3:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "a frame is a JSON array [type, id, ...]")
    kind, unique_id = msg[0], msg[1]
    if not isinstance(unique_id, str) or not 0 < len(unique_id) <= MAX_UNIQUE_ID:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "unique id must be a string of 1-36 chars")
    if kind == CALL:
        if len(msg) != 4 or not isinstance(msg[2], str):
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR, "CALL is [2, id, action, payload]", unique_id
            )
        if not isinstance(msg[3], dict):
            raise FrameError(
                ErrorCode.FORMATION_VIOLATION, "CALL payload must be an object", unique_id
            )
        return Call(unique_id, msg[2], msg[3])
    if kind == CALLRESULT:
        if len(msg) != 3 or not isinstance(msg[2], dict):
            raise FrameError(
                ErrorCode.PROTOCOL_ERROR, "CALLRESULT is [3, id, {payload}]", unique_id, False
            )
        return CallResult(unique_id, msg[2])
    if kind == CALLERROR:
        if len(msg) != 5 or not isinstance(msg[2], str) or not isinstance(msg[3], str):
            raise FrameError(
                ErrorCode.PROTOCOL_ERROR,
                "CALLERROR is [4, id, code, description, details]",
                unique_id,
                False,
            )
        return CallError(unique_id, msg[2], msg[3], msg[4])
    raise FrameError(
        ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, f"unknown message type {kind!r}", unique_id
    )


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([CALL, unique_id, action, payload])


def encode_result(unique_id: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([CALLRESULT, unique_id, payload])


def encode_error(
    unique_id: str, code: ErrorCode | str, description: str = "", details: Any = None
) -> bytes:
    return orjson.dumps([CALLERROR, unique_id, str(code), description[:255], details or {}])
