"""Integers a charger sends, bounded to what the store holds (both versions).

The OCPP schemas leave most integers open (``connectorId``, ``evseId``, ``seqNo``...),
and JSON Schema counts ``2.0`` or ``1e23`` as an integer too; the store keeps them in
INTEGER columns (BIGINT for 1.6 transaction ids). Out of range, PostgreSQL refuses the
write (an InternalError for the whole group commit) and SQLite keeps nonsense. So the
handlers read every integer they store or look up through :func:`bounded`, which answers
a PropertyConstraintViolation naming the field instead.
"""

from __future__ import annotations

from typing import Any

from chargegrid.ocpp.errors import ErrorCode, OcppCallError

# An INTEGER column: a count or a number of something (connector, EVSE, seqNo) is
# 0 <= x < INT_END; an identifier echoed back (remoteStartId, reservationId) may be
# negative: INT_START <= x < INT_END.
INT_END = 2**31
INT_START = -(2**31)
# A BIGINT column (1.6 transactionId, which chargegrid issues from 1; a charger may
# still send -1 for "none").
BIGINT_START = -(2**63)
BIGINT_END = 2**63


def bounded(value: Any, field: str, start: int = 0, end: int = INT_END) -> int:
    """``value`` as an int in ``start <= value < end``, else a PropertyConstraintViolation
    naming ``field``. An integral float (``2.0``, which the schemas take) becomes an int."""
    if type(value) is int and start <= value < end:  # not bool
        return value
    if isinstance(value, float) and value.is_integer() and start <= value < end:
        return int(value)
    raise OcppCallError(
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        f"{field}: {value!r} is not an integer from {start} to {end - 1}",
        {"field": field},
    )


def bounded_or_none(value: Any, field: str, start: int = 0, end: int = INT_END) -> int | None:
    """:func:`bounded` for an optional field (None stays None)."""
    return None if value is None else bounded(value, field, start, end)
