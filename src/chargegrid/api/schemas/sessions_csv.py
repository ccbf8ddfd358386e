"""The sessions CSV (``GET /sessions?format=csv``): its columns and one row per session.

Spreadsheets are the readers: times are ISO 8601 in UTC, energy in Wh and kWh (three
decimals, the resolution of a Wh), durations in whole seconds, empty cells for unknowns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from chargegrid.services.consumption import session_duration_s, session_status
from chargegrid.store.models import ChargingSession

CSV_MEDIA_TYPE = "text/csv"
FORMULA_STARTS = frozenset("=+-@\t\r")

COLUMNS: tuple[str, ...] = (
    "session_id",
    "site_id",
    "site_name",
    "charger_id",
    "charger_ocpp_id",
    "evse_number",
    "connector_id",
    "id_tag",
    "started_at",
    "stopped_at",
    "duration_s",
    "energy_wh",
    "energy_kwh",
    "start_authorization",
    "stop_reason",
    "status",
    "ended_by",
    "end_reason",
)


def wants_csv(accept: str | None) -> bool:
    """``Accept: text/csv`` (alone or preferred over JSON): the client asked for the file."""
    if not accept:
        return False
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return CSV_MEDIA_TYPE in types and (
        "application/json" not in types
        or types.index(CSV_MEDIA_TYPE) < types.index("application/json")
    )


def _time(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ""


def _text(value: object) -> str:
    """A cell of free text. Text a spreadsheet would run as a formula (an id tag or an
    end reason starting with = + - @) is prefixed with an apostrophe (OWASP's advice on
    CSV injection); the apostrophe is only shown, never part of the value."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def row_of(
    session: ChargingSession,
    ocpp_id: str | None,
    site: tuple[str, str] | None,
    now: datetime,
) -> list[str]:
    """One session's cells in ``COLUMNS`` order (``site``: its id and name, if any)."""
    duration = session_duration_s(session, now)
    return [
        str(session.id),
        site[0] if site else "",
        _text(site[1]) if site else "",
        str(session.charger_id),
        _text(ocpp_id),
        str(session.evse_number),
        _text(session.connector_id),
        _text(session.id_tag),
        _time(session.started_at),
        _time(session.stopped_at),
        str(round(duration)),
        _number(session.energy_wh),
        f"{session.energy_wh / 1000:.3f}",
        session.authorization_status,
        _text(session.stop_reason),
        session_status(session),
        _text(session.ended_by),
        _text(session.end_reason),
    ]


def encode(rows: Iterable[Sequence[str]]) -> str:
    """Rows as CSV text (RFC 4180: CRLF line ends, quotes where a cell needs them)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()
