"""Records the load history from the bus, off the control loop's and the OCPP server's
paths (docs/control-loop.md "Load history").

The loop publishes each changed view (``site.load_changed``) and the OCPP server each
meter reading (``session.updated``); the recorder's bus subscription only keeps the
latest of each per site and session (a dict assignment). Once per ``flush_s`` a writer
task turns what changed into rows, one per series whose values differ from its last row,
and writes them in one INSERT. A round never waits for the database: if it is slow,
views just replace each other until the next flush. An unchanged series is written
again every ``keepalive_s``; one that left its site's view (a session stopped) gets a
row of ``None`` that ends it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chargegrid import events as ev
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.history_codec import FIELDS, Values, encode
from chargegrid.store.history_store import Sample, SeriesKey, SqlHistoryStore

log = logging.getLogger(__name__)

TOPICS = (ev.SITE_LOAD_CHANGED, ev.SESSION_UPDATED)
_PHASES = ("l1", "l2", "l3")
_NODE_QUANTITIES = ("limit", "allocated", "measured", "unmanaged")
# Power from readings older than this is not attached to a session's row.
_POWER_MAX_AGE_S = 300.0


@dataclass(slots=True)
class _Live:
    site_id: uuid.UUID
    values: Values
    t: int  # second of its last row


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None  # e.g. the loop's untracked-connector ids: not a session of ours


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def view_series(
    view: Mapping[str, Any], power: Mapping[uuid.UUID, float | None]
) -> dict[SeriesKey, Values]:
    """A site's load view as history values per series (``history_codec.FIELDS``)."""
    out: dict[SeriesKey, Values] = {}
    for node in view.get("nodes", ()):
        ref, kind = _uuid(node.get("id")), node.get("kind")
        if ref is None or kind not in ("site", "circuit"):
            continue
        phases = node.get("phases", {})
        out[(kind, ref)] = tuple(
            _num(phases.get(p, {}).get(q)) for q in _NODE_QUANTITIES for p in _PHASES
        )
    for session in view.get("sessions", ()):
        ref = _uuid(session.get("session_id"))
        if ref is None:
            continue
        measured = session.get("measured") or {}
        out[("session", ref)] = (
            _num(session.get("limit")),
            _num(session.get("phases")),
            *(_num(measured.get(p)) for p in _PHASES),
            power.get(ref),
        )
    return out


class HistoryRecorder:
    def __init__(
        self,
        store: SqlHistoryStore,
        settings: HistorySettings,
        clock: Callable[[], float] = time.time,
        current_view: Callable[[str], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        # The loop's view now, to tell a quiet site from a gone one at keepalive time.
        self.current_view = current_view
        self._views: dict[str, Mapping[str, Any]] = {}  # changed since the last flush
        self._latest: dict[str, Mapping[str, Any]] = {}
        self._power: dict[uuid.UUID, tuple[float | None, float]] = {}  # value, when
        self._power_changed: set[uuid.UUID] = set()
        self._live: dict[SeriesKey, _Live] = {}
        self._ids: dict[SeriesKey, int] = {}
        self.rows_written = 0

    # -- fed from the bus: O(1) each, nothing else happens here -------------------------
    def offer(self, topic: str, payload: Mapping[str, Any]) -> None:
        if topic == ev.SITE_LOAD_CHANGED:
            site_id = payload.get("site_id")
            if isinstance(site_id, str):
                self._views[site_id] = payload
        elif topic == ev.SESSION_UPDATED:
            ref = _uuid(payload.get("session_id"))
            if ref is not None and "power_w" in payload:
                self._power[ref] = (_num(payload.get("power_w")), self.clock())
                self._power_changed.add(ref)

    async def consume(self, subscription: Any) -> None:
        async for event in subscription:
            self.offer(event.topic, event.payload)

    async def run(self) -> None:
        """Flush every ``flush_s`` until cancelled; a failed write is logged and its
        rows are tried again at the next flush (they still differ from the last row)."""
        while True:
            await asyncio.sleep(self.settings.flush_s)  # the period itself
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("load history: writing failed; retrying at the next flush")

    # -- the writer ----------------------------------------------------------------------
    async def flush(self) -> int:
        """Write what changed since the last flush; returns the rows written."""
        now = int(self.clock())
        views, self._views = self._views, {}
        self._latest.update(views)
        power_changed, self._power_changed = self._power_changed, set()
        power = self._fresh_power(now)
        rows: dict[SeriesKey, tuple[uuid.UUID, Values]] = {}
        by_site: dict[uuid.UUID, list[SeriesKey]] = {}
        if views:
            for key, live in self._live.items():
                by_site.setdefault(live.site_id, []).append(key)
        for site_id, view in views.items():
            site = _uuid(site_id)
            if site is None:
                continue
            current = view_series(view, power)
            for key, values in current.items():
                rows[key] = (site, values)
            for key in by_site.get(site, ()):
                if key not in current:
                    rows[key] = (site, (None,) * len(FIELDS[key[0]]))  # it ended
        for ref in power_changed:
            key = ("session", ref)
            known = self._live.get(key)
            if known is not None and key not in rows and known.values[-1:] != (power.get(ref),):
                rows[key] = (known.site_id, (*known.values[:-1], power.get(ref)))
        self._keepalive(now, rows)
        pending = {
            key: (site, values)
            for key, (site, values) in rows.items()
            if self._differs(key, values, now)
        }
        deferred = {k: v for k, v in pending.items() if k in self._live and self._live[k].t >= now}
        if deferred:
            # A row this second already: the change goes out with the next flush.
            for key in deferred:
                pending.pop(key, None)
            self._requeue(deferred)
        if not pending:
            return 0
        try:
            await self._write(now, pending)
        except BaseException:
            self._requeue(pending)  # still differing from their last rows: next flush
            raise
        return len(pending)

    def _differs(self, key: SeriesKey, values: Values, now: int) -> bool:
        live = self._live.get(key)
        if live is None:
            return any(v is not None for v in values)  # nothing to end
        return live.values != values or now - live.t >= self.settings.keepalive_s

    def _keepalive(self, now: int, rows: dict[SeriesKey, tuple[uuid.UUID, Values]]) -> None:
        gone: set[uuid.UUID] = set()
        due = [
            (key, live)
            for key, live in self._live.items()
            if key not in rows and now - live.t >= self.settings.keepalive_s
        ]
        for key, live in due:
            if (
                self.current_view is not None
                and live.site_id not in gone
                and self.current_view(str(live.site_id)) is None
            ):
                gone.add(live.site_id)  # the loop no longer runs the site
                self._latest.pop(str(live.site_id), None)
            if live.site_id in gone:
                rows[key] = (live.site_id, (None,) * len(live.values))
            else:
                rows[key] = (live.site_id, live.values)

    def _requeue(self, deferred: Mapping[SeriesKey, tuple[uuid.UUID, Values]]) -> None:
        for key, (site, _values) in deferred.items():
            view = self._latest.get(str(site))
            if view is not None:
                self._views.setdefault(str(site), view)
            if key[0] == "session":
                self._power_changed.add(key[1])

    def _fresh_power(self, now: int) -> dict[uuid.UUID, float | None]:
        stale = [ref for ref, (_, at) in self._power.items() if now - at > _POWER_MAX_AGE_S]
        for ref in stale:
            del self._power[ref]
        return {ref: value for ref, (value, _) in self._power.items()}

    async def _write(self, now: int, pending: Mapping[SeriesKey, tuple[uuid.UUID, Values]]) -> None:
        missing = [
            (kind, ref, site)
            for (kind, ref), (site, _) in pending.items()
            if (kind, ref) not in self._ids
        ]
        if missing:
            self._ids.update(
                await self.store.ensure_series(missing, datetime.fromtimestamp(now, UTC))
            )
        samples = [
            Sample(self._ids[key], now, 1, encode(key[0], values))
            for key, (_, values) in pending.items()
        ]
        await self.store.insert_samples(1, samples)
        self.rows_written += len(samples)
        for key, (site, values) in pending.items():
            if all(v is None for v in values):
                self._live.pop(key, None)
                self._ids.pop(key, None)  # sessions do not come back: keep the cache small
                if key[0] == "session":
                    self._power.pop(key[1], None)
            else:
                self._live[key] = _Live(site, values, now)
