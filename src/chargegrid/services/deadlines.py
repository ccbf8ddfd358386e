"""A session's deadline (departure, energy wanted) from every source there is, the
strongest winning (domain/deadline_sources.py, docs/deadlines.md): the API, the car
(NotifyEVChargingNeeds, written by the OCPP path), the id tag's defaults, and a
prediction from history (domain/dwell_prediction.py).

``DeadlineInputs`` fills a session in when it starts and again when an API value is
cleared. It owns the one cache of past sessions (per id tag, per site), dropped when
one of their sessions completes: the history is read once per driver, not on every
plug-in, and never answers from before its latest session.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chargegrid import events as ev
from chargegrid.domain.deadline_sources import (
    Candidate,
    DeadlineSource,
    Resolved,
    default_departure,
    parse_time_of_day,
    resolve,
)
from chargegrid.domain.dwell_prediction import PastSession, PredictionSettings, predict_for
from chargegrid.services.charger_ports import ACCEPTED
from chargegrid.store.db import Database
from chargegrid.store.models import Charger, ChargingSession, IdTag, Site
from chargegrid.store.session_history import site_history, tag_history
from chargegrid.store.types import utcnow

log = logging.getLogger(__name__)

HANDLE = "deadline_inputs"
# Id tags whose history is kept; the least recently used is read again when needed.
CACHED_TAGS = 2048
CACHED_SITES = 256
TOPICS = (ev.SESSION_STARTED, ev.SESSION_STOPPED, ev.SESSION_UPDATED)

Reader = Callable[[], Awaitable[tuple[PastSession, ...]]]


class HistoryCache:
    """Past sessions per key, least recently used dropped first. A read that overlaps
    an invalidation of its key is returned but not kept (it may predate the session
    that just completed)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[PastSession, ...]] = OrderedDict()
        self._generation: dict[Hashable, int] = {}

    async def get(self, key: Hashable, read: Reader) -> tuple[PastSession, ...]:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        generation = self._generation.get(key, 0)
        records = await read()
        if self._generation.get(key, 0) == generation:
            self._entries[key] = records
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return records

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1
        if len(self._generation) > 4 * self._size:
            self._generation.clear()  # bounded; a stale read's window is one query long

    def __len__(self) -> int:
        return len(self._entries)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _time_of_day(text: str | None) -> time | None:
    """The id tag's default; one the API would refuse (written around it) is none."""
    try:
        return parse_time_of_day(text) if text else None
    except ValueError:
        return None


def _local(records: tuple[PastSession, ...], tz: ZoneInfo) -> list[PastSession]:
    return [PastSession(r.arrived.astimezone(tz), r.dwell_s, r.energy_wh) for r in records]


_SOURCE_FIELDS = ("departure_source", "energy_wanted_source")


class DeadlineInputs:
    def __init__(self, db: Database, settings: PredictionSettings | None = None) -> None:
        self._db = db
        self.settings = settings or PredictionSettings()
        self.tags = HistoryCache(CACHED_TAGS)
        self.sites = HistoryCache(CACHED_SITES)

    # -- what each source offers -------------------------------------------------------

    async def candidates(
        self, db: AsyncSession, s: ChargingSession, now: datetime
    ) -> list[Candidate]:
        """Every source's offer for ``s``: the API's (as set on it), the car's, the id
        tag's defaults, and a prediction where those leave a part open."""
        out: list[Candidate] = []
        api = DeadlineSource.API.value
        if s.departure_source == api or s.energy_wanted_source == api:
            out.append(
                Candidate(
                    DeadlineSource.API,
                    s.departure_time if s.departure_source == api else None,
                    s.energy_wanted_wh if s.energy_wanted_source == api else None,
                )
            )
        if s.ev_departure_time is not None or s.ev_energy_wanted_wh is not None:
            out.append(
                Candidate(DeadlineSource.CHARGER, s.ev_departure_time, s.ev_energy_wanted_wh)
            )
        site_row = (
            await db.execute(
                select(Site.id, Site.timezone)
                .join(Charger, Charger.site_id == Site.id)
                .where(Charger.id == s.charger_id)
            )
        ).first()
        site_id, tz = (site_row[0], _zone(site_row[1])) if site_row else (None, _zone(None))
        tag = await db.scalar(select(IdTag).where(IdTag.id_tag == s.id_tag)) if s.id_tag else None
        if tag is not None:
            departure = default_departure(
                s.started_at, tz, _time_of_day(tag.default_departure_time), tag.default_dwell_s
            )
            if departure is not None or tag.default_energy_wh is not None:
                out.append(
                    Candidate(DeadlineSource.ID_TAG_DEFAULT, departure, tag.default_energy_wh)
                )
        held = resolve(out)
        if held.departure_at is None or held.energy_wh is None:
            predicted = await self._predicted(db, s, site_id, tz, now)
            if predicted is not None:
                out.append(predicted)
        return out

    async def _predicted(
        self,
        db: AsyncSession,
        s: ChargingSession,
        site_id: uuid.UUID | None,
        tz: ZoneInfo,
        now: datetime,
    ) -> Candidate | None:
        tag_id = s.id_tag
        own: tuple[PastSession, ...] = ()
        if tag_id:
            own = await self.tags.get(tag_id, lambda: tag_history(db, tag_id))
        here: tuple[PastSession, ...] = ()
        if site_id is not None:
            here = await self.sites.get(site_id, lambda: site_history(db, site_id))
        elapsed = max(0.0, (now - s.started_at).total_seconds())
        p = predict_for(
            _local(own, tz),
            _local(here, tz),
            s.started_at.astimezone(tz),
            elapsed_s=elapsed,
            settings=self.settings,
        )
        if p is None:
            return None
        return Candidate(
            DeadlineSource.PREDICTED,
            s.started_at + timedelta(seconds=p.dwell_s),
            p.energy_wh,
            round(p.confidence, 3),
        )

    # -- filling a session in ----------------------------------------------------------

    async def resolved(self, db: AsyncSession, s: ChargingSession, now: datetime) -> Resolved:
        return resolve(await self.candidates(db, s, now))

    @staticmethod
    def assign(s: ChargingSession, r: Resolved) -> set[str]:
        """Put ``r`` on the session row; the fields that changed."""
        changed = set()
        for name, value in _columns(r).items():
            if getattr(s, name) != value:
                setattr(s, name, value)
                changed.add(name)
        return changed

    async def fill(self, session_id: uuid.UUID) -> ev.SessionDeadline | None:
        """A session's deadline from its id tag's defaults or a prediction, where no
        stronger source set it (at its start; again when a predicted departure has
        passed). Written only if no other writer changed the sources meanwhile (the
        car's needs may land at the same moment); the bus payload when it changed."""
        async with self._db.sessionmaker() as db:
            s = await db.get(ChargingSession, session_id)
            if s is None or s.stopped_at is not None:
                return None
            seen = {name: getattr(s, name) for name in _SOURCE_FIELDS}
            r = await self.resolved(db, s, utcnow())
            values = _columns(r)
            if all(getattr(s, k) == v for k, v in values.items()):
                return None
            guard = [
                getattr(ChargingSession, k).is_(None)
                if v is None
                else getattr(ChargingSession, k) == v
                for k, v in seen.items()
            ]
            result = await db.execute(
                update(ChargingSession)
                .where(ChargingSession.id == session_id, *guard)
                .values(**values, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            await db.commit()
            if getattr(result, "rowcount", 1) != 1:
                return None  # the car (or the API) spoke meanwhile: theirs stands
            return deadline_payload(s.id, s.charger_id, r)

    async def refresh_overdue(self) -> list[ev.SessionDeadline]:
        """Predict again every active session whose predicted departure has passed: the
        car stayed longer than sessions like it, so only those that stayed longer than it
        has count now (none: its departure is unknown again, never left in the past)."""
        async with self._db.sessionmaker() as db:
            ids = (
                await db.scalars(
                    select(ChargingSession.id).where(
                        ChargingSession.stopped_at.is_(None),
                        ChargingSession.authorization_status == ACCEPTED,
                        ChargingSession.departure_source == DeadlineSource.PREDICTED.value,
                        ChargingSession.departure_time < utcnow(),
                    )
                )
            ).all()
        filled = [await self.fill(session_id) for session_id in ids]
        return [f for f in filled if f is not None]

    # -- keeping the history fresh -----------------------------------------------------

    async def session_completed(self, session_id: uuid.UUID) -> None:
        """A session completed: its id tag's and its site's history are read again."""
        async with self._db.sessionmaker() as db:
            row = (
                await db.execute(
                    select(ChargingSession.id_tag, Charger.site_id)
                    .join(Charger, Charger.id == ChargingSession.charger_id)
                    .where(ChargingSession.id == session_id)
                )
            ).first()
        if row is None:
            return
        if row[0]:
            self.tags.forget(row[0])
        if row[1] is not None:
            self.sites.forget(row[1])

    async def handle(self, topic: str, payload: dict[str, Any]) -> ev.SessionDeadline | None:
        """One bus event; the payload to publish when a deadline was filled in."""
        raw = payload.get("session_id")
        try:
            session_id = uuid.UUID(str(raw))
        except ValueError:
            return None
        if topic == ev.SESSION_STARTED:
            return await self.fill(session_id)
        if topic == ev.SESSION_STOPPED or payload.get("completed") is True:
            await self.session_completed(session_id)
        return None


def _name(source: DeadlineSource | None) -> ev.DeadlineSourceName | None:
    return _NAMES[source] if source is not None else None


_NAMES: dict[DeadlineSource, ev.DeadlineSourceName] = {
    DeadlineSource.API: "api",
    DeadlineSource.CHARGER: "charger",
    DeadlineSource.ID_TAG_DEFAULT: "id_tag_default",
    DeadlineSource.PREDICTED: "predicted",
}


def _columns(r: Resolved) -> dict[str, Any]:
    """The session columns that hold ``r``."""
    return {
        "departure_time": r.departure_at,
        "departure_source": _name(r.departure_source),
        "departure_confidence": r.departure_confidence,
        "energy_wanted_wh": r.energy_wh,
        "energy_wanted_source": _name(r.energy_source),
    }


def deadline_payload(
    session_id: uuid.UUID, charger_id: uuid.UUID, r: Resolved
) -> ev.SessionDeadline:
    """``session.updated`` for a deadline that changed: the load manager re-plans."""
    return {
        "session_id": str(session_id),
        "charger_id": str(charger_id),
        "departure_at": r.departure_at.isoformat() if r.departure_at else None,
        "departure_source": _name(r.departure_source),
        "departure_confidence": r.departure_confidence,
        "energy_wanted_wh": r.energy_wh,
        "energy_wanted_source": _name(r.energy_source),
        "deadline": True,
    }


__all__ = ["HANDLE", "DeadlineInputs", "HistoryCache", "deadline_payload"]
