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
# A frame too big or not JSON that starts as a CALLRESULT or CALLERROR: never answered.
_LEADING_REPLY = re.compile(rb"^\s*\[\s*[34]\s*[,\]]")


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
    """Decode one text frame or raise :class:`FrameError`.

    The message type must be the JSON integer 2, 3 or 4 (``2.0`` or ``true`` is no
    CALL). A broken CALLRESULT or CALLERROR is never answered (``answer`` False): the
    connection logs it and settles the pending call it names, if any, as invalid.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_FRAME_BYTES:
        raise FrameError(
            ErrorCode.FORMATION_VIOLATION,
            f"frame of {len(data)} bytes exceeds {MAX_FRAME_BYTES}",
            _leading_call_id(data),
            not _LEADING_REPLY.match(data[:16]),
        )
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FrameError(
            ErrorCode.FORMATION_VIOLATION,
            f"not JSON: {exc}",
            _leading_call_id(data),
            not _LEADING_REPLY.match(data[:16]),
        ) from None
    if not isinstance(msg, list) or not msg:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "a frame is a JSON array [type, id, ...]")
    kind = msg[0]
    given = msg[1] if len(msg) > 1 else None
    if isinstance(given, str) and 0 < len(given) <= MAX_UNIQUE_ID:
        unique_id, valid_id = given, True
    else:
        unique_id, valid_id = UNKNOWN_ID, False
    if type(kind) is not int:  # bool and float are no message types
        # 3.0 or 4.0 meant to be a reply, which is never answered.
        reply = isinstance(kind, float) and kind in (CALLRESULT, CALLERROR)
        raise FrameError(
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            f"message type {kind!r} is not an integer",
            unique_id,
            not reply,
        )
    if kind == CALL:
        if not valid_id:
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR, "unique id must be a string of 1-36 chars"
            )
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
        if not valid_id or len(msg) != 3 or not isinstance(msg[2], dict):
            raise FrameError(
                ErrorCode.PROTOCOL_ERROR, "CALLRESULT is [3, id, {payload}]", unique_id, False
            )
        return CallResult(unique_id, msg[2])
    if kind == CALLERROR:
        if (
            not valid_id
            or len(msg) != 5
            or not isinstance(msg[2], str)
            or not isinstance(msg[3], str)
        ):
            raise FrameError(
                ErrorCode.PROTOCOL_ERROR,
                "CALLERROR is [4, id, code, description, details]",
                unique_id,
                False,
            )
        return CallError(unique_id, msg[2], msg[3], msg[4])
    raise FrameError(
        ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, f"unknown message type {kind}", unique_id
    )


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([CALL, unique_id, action, payload])


def encode_result(unique_id: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([CALLRESULT, unique_id, payload])


def encode_error(
    unique_id: str, code: ErrorCode | str, description: str = "", details: Any = None
) -> bytes:
    return orjson.dumps([CALLERROR, unique_id, str(code), description[:255], details or {}])
