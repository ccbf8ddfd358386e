"""The control loop: bus events -> debounce -> problem -> allocator -> apply -> view.

One component per process, started beside the API and the OCPP server in one event
loop. Everything that can change a site's plan arrives as a bus event; each marks what
went out of date and triggers the site; the debouncer turns a burst into one round.
A periodic reconcile re-triggers every site (lease renewals, flagged-charger retries,
anything missed) and reloads the snapshots now and then.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegrid import events as ev
from chargegrid.balancing import Plan, allocate
from chargegrid.control import metrics
from chargegrid.control.apply import (
    ApplyEngine,
    ApplyReport,
    ApplySettings,
    EvseKey,
    FailsafeTarget,
    Setpoint,
)
from chargegrid.control.compliance import REASON as NOT_FOLLOWING_LIMIT
from chargegrid.control.compliance import ComplianceSettings, ComplianceWatcher
from chargegrid.control.debounce import Debouncer
from chargegrid.control.drawn import DrawWatch
from chargegrid.control.failsafe import (
    TreeSignature,
    charger_signature,
    failsafe_limits,
    signature,
)
from chargegrid.control.held import SiteGuard, TakeoverJournal
from chargegrid.control.learner import LearnerSettings, SessionLearner
from chargegrid.control.measure import EnergyRates, MeasureSettings
from chargegrid.control.meters import MeterBook, PeakHold
from chargegrid.control.pacing import PacingSettings, RoundBudget
from chargegrid.control.ports import Clock, CommandGateway, SystemClock
from chargegrid.control.problem import (
    SLOWING_DOWN,
    Built,
    DemandMemo,
    Inputs,
    build_problem,
)
from chargegrid.control.profiles import Limit
from chargegrid.control.readiness import Greeter
from chargegrid.control.readings import EVENT as LIMIT_VIOLATION
from chargegrid.control.readings import event_payload, take_reading, untracked_id
from chargegrid.control.snapshot import (
    ChargerSpec,
    SiteSnapshot,
    load_site,
    reload_chargers,
    reload_sessions,
    reload_tree,
    with_online,
)
from chargegrid.control.view import build_view
from chargegrid.store import models as m

log = logging.getLogger(__name__)

LOAD_CHANGED = ev.SITE_LOAD_CHANGED
# Our own marker on the bus: ``settle`` waits until the consumer reaches it.
SYNC = "control.sync"
TOPICS = (
    SYNC,
    LOAD_CHANGED,  # cluster mode: the views of the sites other nodes run
    ev.CONFIG_CHANGED,
    ev.CHARGER_CONNECTED,
    ev.CHARGER_READY,
    ev.CHARGER_DISCONNECTED,
    ev.CHARGER_STATUS_CHANGED,
    ev.SESSION_STARTED,
    ev.SESSION_UPDATED,
    ev.SESSION_STOPPED,
    ev.METER_READING,
)


# A connector in these states has no car drawing (ends a compliance violation there).
CAR_GONE = frozenset({"Available", "Finishing"})
# Plans per round around cars just cut (they may still draw their old limits): the
# first, and again while a plan's cuts free current it would give away at once.
MAX_REPLANS = 3

# config.changed kinds that touch only the tree of fuses (and meters), not chargers.
TREE_KINDS = frozenset({"site", "circuit", "electricity_meter"})
CHARGER_AFFECTING_FIELDS = frozenset({"nominal_voltage"})  # chargers' W <-> A conversion
NO_LIMIT = Limit(0.0, 3)  # an idle EVSE's live limit; a failsafe not known yet


class Bus(Protocol):
    def publish(self, topic: str, payload: Mapping[str, Any]) -> Any: ...

    def subscribe(self, patterns: Any = "*", maxsize: int = ...) -> Any: ...


SessionFactory = Callable[[], Any]  # an async context manager yielding an AsyncSession


@dataclass(frozen=True, slots=True)
class LoopSettings:
    debounce_s: float = 0.003
    reconcile_s: float = 10.0
    reload_every_s: float = 60.0
    unmanaged_hold_s: float = 30.0  # peak-hold of metered unmanaged load (meters.PeakHold)
    apply: ApplySettings = field(default_factory=ApplySettings)
    learner: LearnerSettings = field(default_factory=LearnerSettings)
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    compliance: ComplianceSettings = field(default_factory=ComplianceSettings)
    # None: rounds are not paced (tests that count rounds one by one).
    pacing: PacingSettings | None = field(default_factory=PacingSettings)


@dataclass(frozen=True, slots=True)
class RoundStats:
    """Monotonic timestamps of one round, for metrics and the benchmark."""

    site_id: str
    triggered_at: float
    started_at: float  # the round began (after the debounce and any round before it)
    loaded_at: float  # the snapshot was up to date
    planned_at: float
    report: ApplyReport
    failsafe_report: ApplyReport


@dataclass(slots=True)
class _SiteState:
    snapshot: SiteSnapshot | None = None
    stale: bool = True  # chargers, sessions: read everything again
    tree_stale: bool = False  # only the site, circuits and meters
    sessions_stale: bool = False  # only the active sessions
    chargers_stale: set[str] = field(default_factory=set)  # only these chargers
    loaded_at: float = 0.0
    plan: Plan | None = None
    built: Built | None = None
    view: dict[str, Any] | None = None
    failsafe_sig: TreeSignature | None = None
    failsafe: dict[EvseKey, Limit] = field(default_factory=dict)
    triggered_at: float | None = None
    phase_switches: dict[str, int] = field(default_factory=dict)
    # 2.0.1 phaseToUse: the terminal each 1-phase session was put on, kept for its life.
    phase_to_use: dict[str, int] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)  # session -> planned A
    memo: DemandMemo = field(default_factory=dict)  # see problem._planned
    # The chargers the failsafe signature was last worked out for, and their part of it.
    signed_chargers: tuple[ChargerSpec, ...] | None = None
    charger_signature: tuple[tuple[object, ...], ...] = ()


class ControlLoop:
    def __init__(
        self,
        sessions: SessionFactory,
        bus: Bus,
        gateway: CommandGateway,
        settings: LoopSettings | None = None,
        clock: Clock | None = None,
        *,
        journal: TakeoverJournal | None = None,
        guard: SiteGuard | None = None,
    ) -> None:
        self.settings = settings or LoopSettings()
        self._sessions = sessions
        self._bus = bus
        self.clock: Clock = clock or SystemClock()
        # Cluster mode (``guard``): only the sites adopted here (their leases) are run;
        # None: every site, as on a single node.
        self._journal = journal
        self._guard = guard
        self._owned: set[str] | None = None if guard is None else set()
        self._remote_views: dict[str, dict[str, Any]] = {}  # site -> its owner's view
        self.engine = ApplyEngine(
            gateway,
            self.clock,
            self.settings.apply,
            metrics.MetricsObserver(),
            journal=journal,
            fence=None if guard is None else self._may_command,
        )
        self.learner = SessionLearner(self.settings.learner)
        self.energy = EnergyRates(self.settings.measure)
        self.compliance = ComplianceWatcher(self.settings.compliance)
        self.meters = MeterBook()
        self._hold = PeakHold(self.settings.unmanaged_hold_s)
        self._budget = (
            RoundBudget(self.settings.pacing, self.clock.monotonic)
            if self.settings.pacing is not None
            else None
        )
        self._debouncer = Debouncer(self.settings.debounce_s, self._round, self._budget)
        self._sites: dict[str, _SiteState] = {}
        self._charger_site: dict[str, str] = {}
        # The OCPP version each charger negotiated on its latest connection (its events).
        self._link_versions: dict[str, str] = {}
        self._session_key: dict[str, tuple[str, EvseKey]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.round_listeners: list[Callable[[RoundStats], None]] = []
        self._syncs: dict[int, asyncio.Event] = {}
        self.greeter = Greeter(self.engine, self.trigger)
        self.drawn = DrawWatch(self.engine, self.learner, self.compliance, self.clock)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        subscription = self._bus.subscribe(TOPICS, maxsize=100_000)
        self._tasks.append(asyncio.create_task(self._consume(subscription), name="control:bus"))
        self._tasks.append(asyncio.create_task(self._reconcile(), name="control:reconcile"))
        async with self._sessions() as db:
            for site_id in await db.scalars(select(m.Site.id)):
                self.trigger(str(site_id))

    async def stop(self) -> None:
        await self._debouncer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.greeter.stop()
        self._tasks.clear()

    async def wait_idle(self) -> None:
        """Until no round is pending or running."""
        await self._debouncer.wait_idle()

    async def settle(self) -> None:
        """Until every event published before this call is handled and its rounds are
        done (tests and benchmarks): the bus keeps order, so our marker comes last."""
        marker = asyncio.Event()
        token = id(marker)
        self._syncs[token] = marker
        self._bus.publish(SYNC, {"token": token})
        try:
            await marker.wait()
        finally:
            self._syncs.pop(token, None)
        while self._debouncer.busy():
            await self._debouncer.wait_idle()

    # --- what others read -------------------------------------------------------------

    def view(self, site_id: str) -> dict[str, Any] | None:
        state = self._sites.get(site_id)
        return None if state is None else state.view

    async def current_view(self, site_id: str) -> dict[str, Any] | None:
        """The view, computing the site first if no round has run for it yet; for a site
        another node runs, that node's latest view (its site.load_changed)."""
        if not self.owns(site_id):
            return self._remote_views.get(site_id)
        state = self._sites.get(site_id)
        if state is None or state.view is None:
            self.trigger(site_id)
            await self.wait_idle()
        return self.view(site_id)

    # --- cluster mode: the sites this node runs ---------------------------------------

    def owns(self, site_id: str) -> bool:
        return self._owned is None or site_id in self._owned

    def owned(self) -> list[str]:
        return sorted(self._owned) if self._owned is not None else sorted(self._sites)

    def _may_command(self, charger_id: str) -> bool:
        """The fence before every frame: this node owns the charger's site and its
        lease is still good this very moment (cluster/leases.py)."""
        site_id = self._charger_site.get(charger_id)
        return (
            site_id is not None
            and self._owned is not None
            and site_id in self._owned
            and self._guard is not None
            and self._guard.holds(site_id)
        )

    async def adopt(self, site_id: str) -> int:
        """Run ``site_id`` from now on (its lease was just taken): start from what its
        previous owner booked (``held_limits``), every charger counted at the highest
        limit it may still obey. The EVSEs restored."""
        if self._owned is None or site_id in self._owned:
            return 0
        records = await self._journal.load(site_id) if self._journal is not None else []
        chargers = {r.charger_id for r in records} | self._chargers_of(site_id)
        self.engine.forget(chargers)
        restored = self.engine.restore(records)
        self._sites.pop(site_id, None)  # nothing of an earlier spell here is current
        self._owned.add(site_id)
        self._remote_views.pop(site_id, None)
        self.trigger(site_id, reload=True, at_once=True)
        log.info("site %s: taken over, %d EVSEs restored from the journal", site_id, restored)
        return restored

    async def drop(self, site_id: str) -> None:
        """Stop running ``site_id`` (its lease ends): no round and no frame for it after
        this returns; what was booked is written for the next owner."""
        if self._owned is None or site_id not in self._owned:
            return
        self._owned.discard(site_id)
        await self._debouncer.cancel(site_id)
        chargers = self._chargers_of(site_id)
        self._sites.pop(site_id, None)
        if self._journal is not None:
            try:
                await self._journal.flush()
            except Exception:  # what is written already covers what chargers may obey
                log.exception("site %s: could not write the last bookings", site_id)
            self._journal.forget(chargers)
        self.engine.forget(chargers)
        log.info("site %s: handed on", site_id)

    def _chargers_of(self, site_id: str) -> set[str]:
        known = {c for c, s in self._charger_site.items() if s == site_id}
        state = self._sites.get(site_id)
        if state is not None and state.snapshot is not None:
            known |= {c.id for c in state.snapshot.chargers}
        return known

    # --- triggers ---------------------------------------------------------------------

    def trigger(
        self,
        site_id: str,
        *,
        reload: bool = False,
        tree: bool = False,
        sessions: bool = False,
        chargers: Iterable[str] = (),
        at_once: bool = False,
    ) -> None:
        """Recompute ``site_id`` soon; re-read everything (``reload``), or only its fuse
        tree (``tree``), its active sessions (``sessions``) or some of its ``chargers``
        first; ``at_once``: without the debounce window."""
        if not self.owns(site_id):
            return
        state = self._sites.setdefault(site_id, _SiteState())
        state.stale |= reload
        state.tree_stale |= tree
        state.sessions_stale |= sessions
        state.chargers_stale.update(chargers)
        if state.triggered_at is None:
            state.triggered_at = self.clock.monotonic()
        self._debouncer.trigger(site_id, at_once=at_once)

    async def _consume(self, subscription: Any) -> None:
        async with subscription:
            async for event in subscription:
                try:
                    await self.handle(event.topic, event.payload)
                except Exception:  # a malformed event must not stop the loop
                    log.exception("control loop could not handle %s", event.topic)

    async def handle(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == SYNC:
            marker = self._syncs.get(payload.get("token", 0))
            if marker is not None:
                marker.set()
            return
        handler = self._handlers.get(topic)
        if handler is not None:
            await handler(self, payload)

    async def _on_view(self, payload: dict[str, Any]) -> None:
        site_id = payload.get("site_id")
        if isinstance(site_id, str) and not self.owns(site_id):
            self._remote_views[site_id] = payload

    async def _on_config(self, payload: dict[str, Any]) -> None:
        site_id = payload.get("site_id")
        if payload.get("kind") == "site" and payload.get("action") == "deleted":
            self._sites.pop(str(payload.get("id")), None)
            return
        if site_id:
            # A fuse or an available current: the chargers need not be read again.
            tree_only = (
                payload.get("kind") in TREE_KINDS
                and payload.get("action") != "deleted"
                and not set(payload.get("fields") or ()) & CHARGER_AFFECTING_FIELDS
            )
            # An operator's change comes alone: no window to wait for a burst.
            self.trigger(str(site_id), reload=not tree_only, tree=tree_only, at_once=True)
            return
        charger_id = str(payload.get("charger_id"))
        charger_site = await self._site_of(charger_id)
        state = self._sites.get(charger_site) if charger_site else None
        if (
            charger_site
            and state is not None
            and state.snapshot is not None
            and state.snapshot.charger(charger_id)
        ):
            # What a charger said of itself: its own rows and the site's active
            # sessions, not the whole site again (in a reconnect storm every charger's
            # configuration answer lands here).
            self.trigger(charger_site, chargers=(charger_id,), sessions=True)
            return
        sites = [charger_site] if charger_site else list(self._sites)
        for site in sites:
            self.trigger(site, reload=True)

    async def _on_connected(self, payload: dict[str, Any]) -> None:
        charger_id = str(payload.get("charger_id"))
        self.engine.charger_connected(charger_id)
        version = payload.get("ocpp_version")
        if isinstance(version, str):
            self._link_versions[charger_id] = version
        await self._link_changed(
            charger_id, online=True, ocpp_version=version if isinstance(version, str) else None
        )

    async def _on_ready(self, payload: dict[str, Any]) -> None:
        """The charger spoke first on its new connection (a BootNotification accepted):
        its failsafe and live limits are the first calls it gets, at once."""
        charger_id = str(payload.get("charger_id"))
        self.engine.charger_ready(charger_id, rebooted=payload.get("rebooted") is True)
        site_id = await self._site_of(charger_id)
        if site_id is None or not self.owns(site_id):
            # No site, or another node runs it: nothing to send from here.
            self.greeter.limits_sent(charger_id)
            return
        state = self._sites.setdefault(site_id, _SiteState())
        charger = state.snapshot.charger(charger_id) if state.snapshot is not None else None
        if charger is not None and state.snapshot is not None:
            # Its first calls are written in the version of this connection, whatever
            # the snapshot (perhaps loaded before it connected) says.
            version = payload.get("ocpp_version")
            if isinstance(version, str):
                self._link_versions[charger_id] = version
            state.snapshot = with_online(
                state.snapshot, charger_id, True, version if isinstance(version, str) else None
            )
            charger = state.snapshot.charger(charger_id) or charger
            self.greeter.greet(site_id, charger, state.failsafe)
        self.trigger(site_id, reload=charger is None, at_once=True)

    async def first_limits(self, charger_id: str) -> None:
        """Until the first round after ``charger_id`` became ready has sent its failsafe
        and live limits (and had their answers or timeouts); the OCPP server reads and
        pushes the charger's configuration only after that. Callers bound the wait."""
        await self.greeter.first_limits(charger_id)

    async def _on_disconnected(self, payload: dict[str, Any]) -> None:
        charger_id = str(payload.get("charger_id"))
        self.engine.charger_disconnected(charger_id)
        await self._link_changed(charger_id, online=False)

    async def _link_changed(
        self, charger_id: str, *, online: bool, ocpp_version: str | None = None
    ) -> None:
        site_id = await self._site_of(charger_id)
        if site_id is None:
            return
        state = self._sites.setdefault(site_id, _SiteState())
        if state.snapshot is not None and state.snapshot.charger(charger_id) is not None:
            state.snapshot = with_online(state.snapshot, charger_id, online, ocpp_version)
            self.trigger(site_id)
        else:
            self.trigger(site_id, reload=True)

    async def _on_status(self, payload: dict[str, Any]) -> None:
        charger_id = str(payload.get("charger_id"))
        site_id = await self._site_of(charger_id)
        if site_id is None:
            return
        # A 1.6 charger's first StatusNotification for a connector creates its EVSE rows.
        state = self._sites.get(site_id)
        snapshot = state.snapshot if state is not None else None
        charger = snapshot.charger(charger_id) if snapshot is not None else None
        connector_id = payload.get("connector_id")
        known = charger is not None and (
            connector_id in (None, 0)
            or any(k.connector_id == connector_id for e in charger.evses for k in e.connectors)
        )
        if charger is not None and payload.get("ocpp_status") in CAR_GONE and self.owns(site_id):
            self._car_gone(site_id, charger, connector_id, str(payload.get("ocpp_status")))
        self.trigger(site_id, reload=not known)

    def _car_gone(
        self, site_id: str, charger: ChargerSpec, connector_id: object, status: str
    ) -> None:
        """No car draws at an Available/Finishing connector: a violation there ends (a
        refused start has no session.stopped to end it)."""
        for evse in charger.evses:
            if any(k.connector_id == connector_id for k in evse.connectors):
                for ended in self.compliance.end_at(EvseKey(charger.id, evse.number)):
                    self._bus.publish(
                        LIMIT_VIOLATION,
                        event_payload(
                            ended,
                            site_id,
                            charger.ocpp_id,
                            connector_id if isinstance(connector_id, int) else None,
                            ended=True,
                            at=self.clock.utcnow(),
                            reason=f"connector_{status.lower()}",
                        ),
                    )
                metrics.NOT_FOLLOWING_LIMIT.set(len(self.compliance.violations()))

    async def _on_session_started(self, payload: dict[str, Any]) -> None:
        connector_id = payload.get("connector_id")
        if isinstance(connector_id, int):
            # A session runs there now: a draw watched without one is its to answer for.
            self._forget_watch(untracked_id(str(payload.get("charger_id")), connector_id), payload)
        await self._trigger_charger(str(payload.get("charger_id")), sessions=True)

    async def _on_session_stopped(self, payload: dict[str, Any]) -> None:
        session_id = str(payload.get("session_id"))
        self._forget_watch(session_id, payload, reason="session_stopped")
        known = self._session_key.pop(session_id, None)
        if known is not None:
            self.engine.session_ended(known[1])
        await self._trigger_charger(str(payload.get("charger_id")), sessions=True)

    def _forget_watch(
        self, session_id: str, payload: dict[str, Any], reason: str = "session_started"
    ) -> None:
        self.learner.forget(session_id)
        self.energy.forget(session_id)
        open_violation = self.compliance.forget(session_id)
        site_id = self._charger_site.get(open_violation.key.charger_id) if open_violation else None
        if open_violation is not None and (site_id is None or self.owns(site_id)):
            self._bus.publish(
                LIMIT_VIOLATION,
                event_payload(
                    open_violation,
                    self._charger_site.get(open_violation.key.charger_id),
                    payload.get("ocpp_id"),
                    payload.get("connector_id"),
                    ended=True,
                    at=self.clock.utcnow(),
                    reason=reason,
                ),
            )
            metrics.NOT_FOLLOWING_LIMIT.set(len(self.compliance.violations()))

    async def _on_session_updated(self, payload: dict[str, Any]) -> None:
        if payload.get("needs") is True or payload.get("deadline") is True:
            # A car's needs or a new deadline: not a reading; its session is read again.
            await self._trigger_charger(str(payload.get("charger_id")), sessions=True)
            return
        session_id = payload.get("session_id")
        if not session_id:
            # MeterValues without a (known) transactionId: a charger that forgot a refused
            # start lets its car draw and meters it so. Watched per connector all the same.
            charger_id, connector_id = payload.get("charger_id"), payload.get("connector_id")
            if not charger_id or not isinstance(connector_id, int) or connector_id <= 0:
                return
            payload = {**payload, "session_id": untracked_id(str(charger_id), connector_id)}
        site_id = await self._site_of(payload.get("charger_id"))
        state = self._sites.get(site_id) if site_id else None
        taken = take_reading(
            payload,
            state.snapshot if state else None,
            state.built if state else None,
            state.limits.get(str(session_id)) if state else None,
            learner=self.learner,
            energy=self.energy,
            watcher=self.compliance,
            engine=self.engine,
            now=self.clock.monotonic(),
            wall=self.clock.utcnow(),
            measure=self.settings.measure,
        )
        if taken.transition is not None and (site_id is None or self.owns(site_id)):
            self._bus.publish(
                LIMIT_VIOLATION,
                event_payload(
                    taken.transition.violation,
                    site_id,
                    payload.get("ocpp_id"),
                    payload.get("connector_id"),
                    ended=taken.transition.ended,
                    at=self.clock.utcnow(),
                ),
            )
        if taken.resend is not None:
            self.engine.resend(taken.resend)
        metered = state is not None and state.snapshot is not None and bool(state.snapshot.meters)
        if site_id and (taken.learnt or metered or taken.transition or taken.violating):
            self.trigger(site_id)

    async def _on_meter_reading(self, payload: dict[str, Any]) -> None:
        meter_id, site_id = payload.get("meter_id"), payload.get("site_id")
        if not meter_id or not site_id:
            return
        age = 0.0
        stamp = payload.get("timestamp")
        if isinstance(stamp, str):
            try:
                taken = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                age = (self.clock.utcnow() - taken).total_seconds()
            except ValueError:
                age = 0.0
        currents = tuple(_amps(payload.get(f"current_l{i}")) for i in (1, 2, 3))
        if self.meters.record(
            str(meter_id),
            (currents[0], currents[1], currents[2]),
            self.clock.monotonic(),
            age,
        ):
            self.trigger(str(site_id))

    _handlers: dict[str, Callable[[ControlLoop, dict[str, Any]], Awaitable[None]]] = {
        ev.CONFIG_CHANGED: _on_config,
        LOAD_CHANGED: _on_view,
        ev.CHARGER_CONNECTED: _on_connected,
        ev.CHARGER_READY: _on_ready,
        ev.CHARGER_DISCONNECTED: _on_disconnected,
        ev.CHARGER_STATUS_CHANGED: _on_status,
        ev.SESSION_STARTED: _on_session_started,
        ev.SESSION_STOPPED: _on_session_stopped,
        ev.SESSION_UPDATED: _on_session_updated,
        ev.METER_READING: _on_meter_reading,
    }

    async def _trigger_charger(
        self, charger_id: str, *, reload: bool = False, sessions: bool = False
    ) -> None:
        site_id = await self._site_of(charger_id)
        if site_id is None:
            return
        state = self._sites.get(site_id)
        known = state is not None and state.snapshot is not None
        if known and state is not None and state.snapshot is not None:
            known = state.snapshot.charger(charger_id) is not None
        # Only the sessions of chargers the snapshot already holds can be re-read alone.
        self.trigger(site_id, reload=reload or (sessions and not known), sessions=sessions)

    async def _site_of(self, charger_id: object) -> str | None:
        if not charger_id:
            return None
        known = self._charger_site.get(str(charger_id))
        if known is not None:
            return known
        try:
            key = uuid.UUID(str(charger_id))
        except ValueError:
            return None
        async with self._sessions() as db:
            site_id = await db.scalar(select(m.Charger.site_id).where(m.Charger.id == key))
        if site_id is None:
            return None
        self._charger_site[str(charger_id)] = str(site_id)
        return str(site_id)

    async def _reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reconcile_s)  # the period itself
            now = self.clock.monotonic()
            for site_id, state in list(self._sites.items()):
                if not self.owns(site_id):
                    continue
                if now - state.loaded_at >= self.settings.reload_every_s:
                    await self._refresh(site_id, state)
                self.trigger(site_id)

    async def _refresh(self, site_id: str, state: _SiteState) -> None:
        """Re-read a whole site beside the rounds, not inside one: a safety net for
        missed events that must not delay a PATCH's profiles by a full read."""
        try:
            async with self._sessions() as db:
                snapshot = await load_site(db, uuid.UUID(site_id))
        except Exception:  # the next period tries again
            log.exception("could not re-read site %s", site_id)
            return
        state.loaded_at = self.clock.monotonic()
        if snapshot is not None:
            state.snapshot = snapshot

    # --- one round ----------------------------------------------------------------------

    async def _load(self, site_id: str, state: _SiteState) -> SiteSnapshot | None:
        if state.stale or state.snapshot is None:
            # Cleared before reading: a change that lands while we read marks it again.
            state.stale = state.tree_stale = state.sessions_stale = False
            state.chargers_stale.clear()
            async with self._sessions() as db:
                assert isinstance(db, AsyncSession)
                state.snapshot = await load_site(db, uuid.UUID(site_id))
            state.loaded_at = self.clock.monotonic()
            if state.snapshot is not None:
                for charger in state.snapshot.chargers:
                    self._charger_site[charger.id] = site_id
                    # A read that began before its connection was stored must not undo
                    # the version the connection negotiated (its calls are written in it).
                    version = self._link_versions.get(charger.id)
                    if version is not None and charger.caps.ocpp_version != version:
                        state.snapshot = with_online(
                            state.snapshot, charger.id, charger.online, version
                        )
            return state.snapshot
        if state.tree_stale:
            state.tree_stale = False
            async with self._sessions() as db:
                assert isinstance(db, AsyncSession)
                state.snapshot = await reload_tree(db, state.snapshot)
        if state.chargers_stale and state.snapshot is not None:
            ids, state.chargers_stale = state.chargers_stale, set()
            async with self._sessions() as db:
                assert isinstance(db, AsyncSession)
                partly = await reload_chargers(db, state.snapshot, ids)
            if partly is None:  # one left the site or is gone: read it whole
                state.stale = True
                return await self._load(site_id, state)
            state.snapshot = partly
        if state.sessions_stale and state.snapshot is not None:
            state.sessions_stale = False
            async with self._sessions() as db:
                assert isinstance(db, AsyncSession)
                state.snapshot = await reload_sessions(db, state.snapshot)
        return state.snapshot

    async def _round(self, site_id: str) -> None:
        if not self.owns(site_id):
            return
        state = self._sites.setdefault(site_id, _SiteState())
        started_at = self.clock.monotonic()
        triggered_at = state.triggered_at or started_at
        state.triggered_at = None
        try:
            snapshot = await self._load(site_id, state)
        except ValueError:
            snapshot = None
        if snapshot is None:
            self._sites.pop(site_id, None)
            return
        metrics.REBALANCES.inc()
        # Chargers whose first limits this round sends (ready before it began).
        greeted = self.greeter.waiting(snapshot.chargers)
        loaded_at = self.clock.monotonic()
        try:
            built, plan, setpoints = self._planned(snapshot, state)
        except Exception:
            metrics.REBALANCE_FAILURES.inc()
            raise
        planned_at = self.clock.monotonic()
        if self._budget is not None:
            # Reading the site counts too (its rows are decoded here, in the loop).
            self._budget.spend(planned_at - started_at)
        metrics.PLAN_SECONDS.observe(planned_at - triggered_at)
        targets = [
            FailsafeTarget(EvseKey(c.id, e.number), c.ocpp_id, state.failsafe[key], c.caps)
            for c in snapshot.chargers
            for e in c.evses
            if (key := EvseKey(c.id, e.number)) in state.failsafe
        ]
        # A charger with no failsafe acknowledged yet (just booted) gets it first, before
        # any live limit: a car may start charging the moment it boots. Changed failsafes
        # of the others go after the live limits, which a PATCH is waiting for.
        fresh = [
            t
            for t in targets
            if not self.engine.failsafe_known(t.key) and not self.greeter.in_flight(t.key)
        ]
        first_report = await self.engine.install_failsafes(fresh) if fresh else None
        with_failsafe = {t.key for t in targets}
        report = await self.engine.apply(
            await self._after_failsafes(site_id, setpoints, with_failsafe)
        )
        for _ in range(MAX_REPLANS):
            if not report.increases_held:
                break
            # Cuts were acknowledged whose cars may still draw their old limits: plan
            # again with them counted at that, and send what that plan raises.
            built, plan, setpoints = self._planned(snapshot, state)
            again = await self.engine.apply(
                await self._after_failsafes(site_id, setpoints, with_failsafe)
            )
            report = report.merged(again)
            report.increases_held = again.increases_held
        if report.increases_held:
            self.trigger(site_id)  # still cutting: once more, after this round
        failsafe_report = await self.engine.install_failsafes(
            t for t in targets if self.engine.failsafe_known(t.key)
        )
        if first_report is not None:
            failsafe_report = first_report.merged(failsafe_report)
        for charger_id in greeted:
            self.greeter.limits_sent(charger_id)
        recording = self.clock.monotonic()
        self._record(site_id, state, snapshot, built, plan)
        if self._budget is not None:
            self._budget.spend(self.clock.monotonic() - recording)
        stats = RoundStats(
            site_id, triggered_at, started_at, loaded_at, planned_at, report, failsafe_report
        )
        self._observe(stats)
        self._schedule(site_id, snapshot, report, failsafe_report)

    async def _after_failsafes(
        self, site_id: str, setpoints: list[Setpoint], with_failsafe: set[EvseKey]
    ) -> list[Setpoint]:
        """The live limits that may go now: a charger's failsafe goes before them. One
        sent on readiness is let reach its socket first; an EVSE that has a failsafe to
        get but has not had it acknowledged (it became ready while this round ran) waits
        for the next round, which installs it first."""
        await self.greeter.written()
        due = [
            sp
            for sp in setpoints
            if sp.key in with_failsafe
            and not self.engine.failsafe_known(sp.key)
            and not self.greeter.in_flight(sp.key)
        ]
        if not due:
            return setpoints
        self.trigger(site_id)
        skip = {sp.key for sp in due}
        return [sp for sp in setpoints if sp.key not in skip]

    @staticmethod
    def _setpoints(
        state: _SiteState, built: Built, plan: Plan, drawing: Callable[[str], float | None]
    ) -> list[Setpoint]:
        """What the plan wants at each EVSE: every planned session, every idle EVSE at 0 A
        (where nothing is expected to draw)."""
        failsafe, contexts = state.failsafe, built.contexts
        setpoints = []
        for entry in plan.sessions:
            ctx = contexts.get(entry.session_id)
            if ctx is None:
                continue
            key, charger = ctx.key, ctx.charger
            # A car put on one phase is told 1 phase, whatever terminals are counted.
            terminal = built.phase_to_use.get(entry.session_id)
            phases = 1 if terminal is not None else entry.phases
            setpoints.append(
                Setpoint(
                    key,
                    charger.ocpp_id,
                    Limit(entry.limit_a, phases),
                    failsafe.get(key, NO_LIMIT),
                    charger.caps,
                    ctx.session.transaction_id,
                    drawing(entry.session_id),
                    terminal,
                )
            )
        setpoints += [
            Setpoint(
                idle.key,
                idle.charger.ocpp_id,
                NO_LIMIT,
                failsafe.get(idle.key, NO_LIMIT),
                idle.charger.caps,
                idle.transaction_id,
                0.0,
            )
            for idle in built.idle
        ]
        setpoints += [
            Setpoint(
                h.key,
                h.charger.ocpp_id,
                h.told,
                failsafe.get(h.key, NO_LIMIT),
                h.charger.caps,
                h.session.transaction_id if h.session is not None else None,
            )
            for h in built.held
            if h.reason == NOT_FOLLOWING_LIMIT and h.told is not None and h.charger is not None
        ]
        return setpoints

    def _planned(
        self, snapshot: SiteSnapshot, state: _SiteState
    ) -> tuple[Built, Plan, list[Setpoint]]:
        """The plan to record and what to send. While cars just cut may still draw their
        old limits, two plans: *now*, with them counted at that (what the others may be
        given), and *target*, with them planned as usual (what they are told, never more
        than their cut: a further cut must still reach a car that is slowing down).
        Everybody else gets the lower of the two."""
        built, plan = self._plan(snapshot, state)
        setpoints = self._setpoints(state, built, plan, self.drawn.drawing)
        slowing = {h.key for h in built.held if h.reason == SLOWING_DOWN}
        if not slowing:
            return built, plan, setpoints
        t_built, t_plan = self._plan(snapshot, state, drawn=False)
        target = {sp.key: sp for sp in self._setpoints(state, t_built, t_plan, self.drawn.drawing)}
        merged = [
            sp
            if sp.key not in target or sp.limit.amps <= target[sp.key].limit.amps
            else target[sp.key]
            for sp in setpoints
        ]
        merged += [self.drawn.told(sp) for key, sp in target.items() if key in slowing]
        return built, plan, merged

    def _plan(
        self, snapshot: SiteSnapshot, state: _SiteState, *, drawn: bool = True
    ) -> tuple[Built, Plan]:
        """Plan the site. ``drawn``: count cars slowing down after a cut at what they may
        still draw (else plan them as usual, see ``_planned``)."""
        now_wall, now_mono = self.clock.utcnow(), self.clock.monotonic()
        offline = frozenset(
            c.id for c in snapshot.chargers if not c.online or self.engine.is_offline(c.id)
        )
        flagged = frozenset(c.id for c in snapshot.chargers if not self.engine.steerable(c.id))
        flagged -= offline
        held: dict[EvseKey, Limit | None] = {}
        uncertain: frozenset[EvseKey] = frozenset()
        if offline or flagged:
            tx_at = {(s.charger_id, s.evse_number): s.transaction_id for s in snapshot.sessions}
            held = {
                key: self.engine.committed(key, tx_at.get((c.id, e.number)))
                for c in snapshot.chargers
                if c.id in offline or c.id in flagged
                for e in c.evses
                for key in (EvseKey(c.id, e.number),)
            }
            uncertain = frozenset(k for k in held if self.engine.uncertain(k))
        ramping = self.drawn.ramping(snapshot, offline | flagged) if drawn else {}
        for key, before in ramping.items():
            held.setdefault(key, before)
        violating = {v.key: v.measured for v in self.compliance.violations().values()}
        # Over its limit at its latest reading but within the reaction time (a car still
        # slowing down after a cut, or one that will turn out not to follow): its current
        # flows now, so it is held at its draw now; only the flag and event wait.
        reacting = self.drawn.reacting(snapshot, now_mono, violating)
        violating.update(reacting)
        if violating:  # counted at its draw (violators are also told their limit again)
            tx_of = {
                EvseKey(s.charger_id, s.evse_number): s.transaction_id for s in snapshot.sessions
            }
            for key in violating:
                held.setdefault(key, self.engine.committed(key, tx_of.get(key)))
        base = Inputs(
            now_wall=now_wall,
            now_mono=now_mono,
            learner=self.learner,
            meters=self.meters,
            held=held,
            failsafe=state.failsafe,
            offline=offline,
            flagged=flagged,
            uncertain=uncertain,
            unmanaged_hold=self._hold,
            previous=state.plan,
            phase_switches=state.phase_switches,
            phase_to_use=state.phase_to_use,
            memo=state.memo,
            violating=violating,
            reacting=frozenset(reacting),
            ramping=frozenset(ramping),
        )
        if state.signed_chargers is not snapshot.chargers:
            state.signed_chargers = snapshot.chargers
            state.charger_signature = charger_signature(snapshot.chargers)
        sig = signature(snapshot, state.charger_signature)
        if sig != state.failsafe_sig:
            state.failsafe = failsafe_limits(snapshot, base)
            base = replace(base, failsafe=state.failsafe)
        # Kept also when equal: the next round then compares the same tuples, at once.
        state.failsafe_sig = sig
        built = build_problem(snapshot, base)
        state.phase_to_use = built.phase_to_use  # open sessions only
        if len(state.memo) > 2 * len(built.contexts) + 100:
            # Sessions come and go: keep only the ones planned now.
            state.memo = {k: v for k, v in state.memo.items() if k in built.contexts}
        return built, allocate(built.problem)

    def _record(
        self,
        site_id: str,
        state: _SiteState,
        snapshot: SiteSnapshot,
        built: Built,
        plan: Plan,
    ) -> None:
        if state.plan is not None:
            before = {s.session_id: s.phases for s in state.plan.sessions}
            for entry in plan.sessions:
                if entry.session_id in before and before[entry.session_id] != entry.phases:
                    state.phase_switches[entry.session_id] = (
                        state.phase_switches.get(entry.session_id, 0) + 1
                    )
        state.plan, state.built = plan, built
        state.limits = {s.session_id: s.limit_a for s in plan.sessions}
        for session_id, ctx in built.contexts.items():
            self._session_key[session_id] = (site_id, ctx.key)
        view = build_view(snapshot, built, plan, self.learner, self.clock.utcnow())
        if state.view is None or _without_time(state.view) != _without_time(view):
            self._bus.publish(LOAD_CHANGED, view)
        state.view = view

    def _observe(self, stats: RoundStats) -> None:
        report = stats.report
        if report.last_sent_at is not None:
            metrics.SENT_SECONDS.observe(report.last_sent_at - stats.triggered_at)
        if report.last_answer_at is not None:
            metrics.ACKED_SECONDS.observe(report.last_answer_at - stats.triggered_at)
        for listener in self.round_listeners:
            listener(stats)

    def _schedule(
        self,
        site_id: str,
        snapshot: SiteSnapshot,
        report: ApplyReport,
        failsafe_report: ApplyReport,
    ) -> None:
        """Plan the next round where this one left something for later."""
        now = self.clock.monotonic()
        if report.reductions_failed or failsafe_report.reductions_failed:
            # A reduction failed and is now held at its old limit: re-plan around it.
            self.trigger(site_id)
        wakeups = [report.retry_at] if report.retry_at is not None else []
        charger_ids = {c.id for c in snapshot.chargers}
        wakeups += [f.retry_at for c, f in self.engine.flags().items() if c in charger_ids]
        for meter in snapshot.meters:
            expires = self.meters.expires_at(meter.id, meter.max_age_s)
            if expires is not None and expires > now:
                wakeups.append(expires + 0.001)
        wall = self.clock.utcnow()
        for node in snapshot.nodes:
            lapse = node.override.expires_at
            if lapse is not None and lapse > wall:
                wakeups.append(now + (lapse - wall).total_seconds())
        future = [w for w in wakeups if w > now]
        if future:
            self._debouncer.trigger_later(site_id, min(future) - now)


def _amps(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _without_time(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "computed_at"}
