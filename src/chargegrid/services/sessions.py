"""Sessions as operators see them: whether one is running or suspect, and ending one.

What counts as running, and every way a session ends, is in docs/ocpp.md ("Refused
starts", "When a session ends"); the OCPP side of it is in ``store.charger_store``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from chargegrid.domain.deadline_sources import STATED_CONFIDENCE, DeadlineSource
from chargegrid.domain.errors import Conflict, ErrorCollector, InvalidValue
from chargegrid.events import SESSION_STOPPED, SESSION_UPDATED, SessionStopped
from chargegrid.services.charger_ports import ACCEPTED, OPERATOR
from chargegrid.services.configure.context import ConfigContext, found
from chargegrid.services.deadlines import DeadlineInputs, deadline_payload
from chargegrid.store.models import Charger, ChargingSession

log = logging.getLogger(__name__)

END_REASON_MAX = 500


def is_running(session: ChargingSession) -> bool:
    """Open and accepted: it gets current, a TxProfile, and keeps its tag busy."""
    return session.stopped_at is None and session.authorization_status == ACCEPTED


def is_suspect(
    session: ChargingSession, charger: Charger | None, now: datetime, suspect_after_s: float
) -> bool:
    """Running on a charger that has been offline for longer than ``suspect_after_s``:
    probably over, but nobody told us (an operator may end it)."""
    if not is_running(session) or charger is None or charger.online:
        return False
    seen = charger.last_seen_at
    return seen is None or now - seen > timedelta(seconds=suspect_after_s)


async def session_in_scope(ctx: ConfigContext, session_id: uuid.UUID) -> ChargingSession:
    session = found(await ctx.uow.sessions.get(session_id), "session")
    charger = await ctx.uow.chargers.get(session.charger_id)
    ctx.who.check_site(charger.site_id if charger else None, "session")
    return session


async def end_session(ctx: ConfigContext, session_id: uuid.UUID, reason: str) -> ChargingSession:
    """Close an open session by hand (its charger is gone, or never said it stopped).

    Nothing is sent to the charger (``remote-stop`` does that); if the charger later
    sends its StopTransaction, the real meter reading completes the session. Who ended
    it and why stay on the row (``ended_by``, ``end_reason``), are logged, and go out
    with ``session.stopped``.
    """
    session = await session_in_scope(ctx, session_id)
    ctx.who.require_write()
    reason = reason.strip()
    if not reason:
        raise InvalidValue.of("reason", "say why the session is ended")
    if len(reason) > END_REASON_MAX:
        raise InvalidValue.of("reason", f"at most {END_REASON_MAX} characters")
    if session.stopped_at is not None:
        raise Conflict("the session has ended already")
    who = f"{ctx.who.role.value}:{ctx.who.token_id}" if ctx.who.token_id else ctx.who.role.value
    running = session.authorization_status == ACCEPTED
    # Guarded: the charger's own StopTransaction may have landed since we read the row.
    result = await ctx.uow.session.execute(
        update(ChargingSession)
        .where(ChargingSession.id == session.id, ChargingSession.stopped_at.is_(None))
        .values(
            stopped_at=ctx.now,
            stop_reason=OPERATOR,
            ended_by=who,
            end_reason=reason,
            updated_at=ctx.now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        raise Conflict("the session has ended already")
    await ctx.uow.commit()
    await ctx.uow.session.refresh(session)
    log.info(
        "session %s (charger %s, transaction %s) ended by %s: %s",
        session.id,
        session.charger_id,
        session.transaction_id,
        who,
        reason,
    )
    if running:
        ended: SessionStopped = {
            "session_id": str(session.id),
            "charger_id": str(session.charger_id),
            "connector_id": session.connector_id,
            "transaction_id": session.transaction_id,
            "energy_wh": session.energy_wh,
            "stopped_at": ctx.now.isoformat(),
            "reason": OPERATOR,
            "ended_by": who,
            "end_reason": reason,
        }
        ctx.bus.publish(SESSION_STOPPED, ended)
    return session


_API = DeadlineSource.API.value
_DEADLINE_FIELDS = (
    "departure_time",
    "departure_source",
    "departure_confidence",
    "energy_wanted_wh",
    "energy_wanted_source",
)


async def set_deadline(
    ctx: ConfigContext, session_id: uuid.UUID, data: dict[str, Any], inputs: DeadlineInputs
) -> ChargingSession:
    """Set or clear (null) a session's departure and energy wanted through the API.

    What is set wins over every other source (domain/deadline_sources.py); a cleared
    part falls back to the next (the car's, the id tag's default, a prediction). Audited
    like a configuration change; an active session's new deadline goes out as
    ``session.updated`` and the load manager re-plans at once.
    """
    session = await session_in_scope(ctx, session_id)
    ctx.who.require_write()
    running = is_running(session)
    before = {name: getattr(session, name) for name in _DEADLINE_FIELDS}
    departure = data.get("departure_at")
    errors = ErrorCollector()
    if departure is not None:
        if running and departure <= ctx.now:
            errors.add("departure_at", "must be in the future while the session is active")
        elif departure <= session.started_at:
            errors.add("departure_at", "must be after the session started")
    errors.raise_if_any()
    if "departure_at" in data:
        if departure is not None:
            session.departure_time = departure
            session.departure_source = _API
            session.departure_confidence = STATED_CONFIDENCE
        elif session.departure_source == _API:
            session.departure_time = session.departure_source = None
            session.departure_confidence = None
    if "energy_wanted_wh" in data:
        energy = data["energy_wanted_wh"]
        if energy is not None:
            session.energy_wanted_wh = float(energy)
            session.energy_wanted_source = _API
        elif session.energy_wanted_source == _API:
            session.energy_wanted_wh = session.energy_wanted_source = None
    resolved = None
    if running:
        # Every other source's offer, for the parts the API leaves open.
        with ctx.uow.session.no_autoflush:
            resolved = await inputs.resolved(ctx.uow.session, session, ctx.now)
        inputs.assign(session, resolved)
    changed = {name for name, old in before.items() if getattr(session, name) != old}
    charger = await ctx.uow.chargers.get(session.charger_id)
    await ctx.commit_update("session", session.id, charger.site_id if charger else None, changed)
    await ctx.uow.session.refresh(session)
    if changed and resolved is not None:
        ctx.bus.publish(SESSION_UPDATED, deadline_payload(session.id, session.charger_id, resolved))
    return session
