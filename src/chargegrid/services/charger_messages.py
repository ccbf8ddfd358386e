"""Use cases for what chargers tell us, independent of the OCPP version.

Each method stores what a message says (through the group-commit writer, so it is
durable before the charger gets its answer) and then publishes what changed for the
load manager, the event stream and webhooks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from chargegrid import events as ev
from chargegrid.ocpp.errors import ErrorCode, OcppCallError
from chargegrid.ocpp.times import parse_timestamp
from chargegrid.services.certificates import ChargerCertificates
from chargegrid.services.charger_ports import (
    Booted,
    BootWrite,
    ChargerGone,
    ChargerRecord,
    ChargerStore,
    Closed,
    ConfigWrite,
    EventSink,
    EvNeedsWrite,
    ExternalLimitWrite,
    IdTagInfo,
    IdTagRecord,
    Metered,
    MeterWrite,
    NoticeWrite,
    PresenceWrite,
    Sample,
    SessionRules,
    Started,
    StartWrite,
    StatusWrite,
    Stopped,
    StopWrite,
    SweepWrite,
    TxEventResult,
    TxEventWrite,
    VariablesWrite,
)
from chargegrid.services.group_commit import GroupCommitWriter
from chargegrid.services.id_tag_policy import id_tag_info
from chargegrid.services.security_events import SecurityEvent, SecurityEvents

log = logging.getLogger(__name__)

PHASE_KEYS = {"L1": "l1", "L2": "l2", "L3": "l3", "L1-N": "l1", "L2-N": "l2", "L3-N": "l3"}
# A line-to-line voltage is reported on the pair; read as line-to-neutral of its first phase.
LINE_TO_LINE = {"L1-L2": "l1", "L2-L3": "l2", "L3-L1": "l3"}
SQRT3 = 3**0.5


def utcnow() -> datetime:
    return datetime.now(UTC)


def _phases() -> dict[str, float | None]:
    return {"l1": None, "l2": None, "l3": None}


class Reading(NamedTuple):
    """What the load manager wants from one MeterValues message.

    Values as the charger sent them, per its own phase labels (its terminals); how they
    become a current per terminal is the control loop's business (``control.measure``),
    which knows the connector, the phases in use and the site's voltage.
    """

    timestamp: datetime
    current: dict[str, float | None]  # Current.Import per phase (L1 or L1-N)
    power_w: float | None  # Power.Active.Import without a phase (the total)
    energy_register_wh: float | None
    soc: float | None
    power: dict[str, float | None]  # Power.Active.Import per phase, W
    voltage: dict[str, float | None]  # Voltage per phase, line-to-neutral V
    current_unphased: float | None = None  # Current.Import without a phase


def summarise(samples: Sequence[Sample]) -> Reading | None:
    """The latest per-phase current and power, total power, voltage, energy register and
    SoC in ``samples`` (only the latest timestamp's, at the outlet or unlocated)."""
    if not samples:
        return None
    latest = samples[0].timestamp
    for s in samples:
        if s.timestamp > latest:
            latest = s.timestamp
    current = _phases()
    power_by_phase = _phases()
    voltage = _phases()
    power = energy = soc = current_unphased = None
    for s in samples:
        if s.timestamp != latest or s.location not in (None, "Outlet"):
            continue
        measurand = s.measurand
        if measurand == "Current.Import":
            if s.phase in PHASE_KEYS:
                current[PHASE_KEYS[s.phase]] = s.value
            elif s.phase is None:
                current_unphased = s.value
        elif measurand == "Power.Active.Import":
            if s.phase is None:
                power = s.value
            elif s.phase in PHASE_KEYS:
                power_by_phase[PHASE_KEYS[s.phase]] = s.value
        elif measurand == "Voltage":
            if s.phase in PHASE_KEYS:
                voltage[PHASE_KEYS[s.phase]] = s.value
            elif s.phase in LINE_TO_LINE and voltage[LINE_TO_LINE[s.phase]] is None:
                voltage[LINE_TO_LINE[s.phase]] = s.value / SQRT3
        elif measurand == "Energy.Active.Import.Register" and s.phase is None:
            energy = s.value
        elif measurand == "SoC":
            soc = s.value
    return Reading(latest, current, power, energy, soc, power_by_phase, voltage, current_unphased)


class ChargerMessages:
    def __init__(
        self,
        store: ChargerStore,
        writer: GroupCommitWriter,
        events: EventSink,
        *,
        auto_register: bool = False,
        unknown_tags_accepted: bool = False,
        heartbeat_interval: int = 300,
        clock: Callable[[], datetime] = utcnow,
        session_rules: SessionRules | None = None,
    ) -> None:
        self.store = store
        self.writer = writer
        self.events = events
        self.auto_register = auto_register
        self.unknown_tags_accepted = unknown_tags_accepted
        self.heartbeat_interval = heartbeat_interval
        self.clock = clock
        self.session_rules = session_rules or SessionRules()
        # Signs chargers' CSRs (``services.certificates``); the OCPP component sets it
        # when the built-in CA's store is wired in.
        self.certificates: ChargerCertificates | None = None
        # Where SecurityEventNotifications also go (``ocpp.security_setup`` sets it).
        self.security_events: SecurityEvents | None = None

    async def _submit(self, write: Any) -> Any:
        """Store ``write`` through the group commit; its result once durable. A write
        for a charger deleted while connected is refused with a CallError (the OCPP
        component closes such a charger's socket too): never acknowledged and dropped."""
        try:
            return await self.writer.submit(write)
        except ChargerGone as exc:
            raise OcppCallError(ErrorCode.SECURITY_ERROR, str(exc)) from None

    async def identify(self, ocpp_id: str) -> ChargerRecord | None:
        """The charger behind ``ocpp_id``; registered Pending if unknown and allowed."""
        record = await self.store.charger(ocpp_id)
        if record is None and self.auto_register:
            record = await self.store.register(ocpp_id)
        return record

    async def connected(self, charger: ChargerRecord, ocpp_version: str) -> None:
        await self._submit(PresenceWrite(charger.id, True, self.clock(), ocpp_version))
        link: ev.ChargerLink = {
            "charger_id": str(charger.id),
            "ocpp_id": charger.ocpp_id,
            "ocpp_version": ocpp_version,
        }
        self.events.publish(ev.CHARGER_CONNECTED, link)

    def ready(
        self, charger: ChargerRecord, *, rebooted: bool, ocpp_version: str | None = None
    ) -> None:
        """The charger registered on its connection (spoke first; a BootNotification
        accepted): calls may go to it now. Published at once, without a write, so a
        waiter for its first limits is in place before the control loop reacts."""
        ready: ev.ChargerReady = {
            "charger_id": str(charger.id),
            "ocpp_id": charger.ocpp_id,
            "rebooted": rebooted,
        }
        if ocpp_version is not None:
            ready["ocpp_version"] = ocpp_version
        self.events.publish(ev.CHARGER_READY, ready)

    async def disconnected(self, charger: ChargerRecord) -> None:
        # Deleted while connected: no row is left to mark offline.
        with contextlib.suppress(ChargerGone):
            await self.writer.submit(PresenceWrite(charger.id, False, self.clock()))
        link: ev.ChargerLink = {"charger_id": str(charger.id), "ocpp_id": charger.ocpp_id}
        self.events.publish(ev.CHARGER_DISCONNECTED, link)

    async def boot(
        self,
        charger: ChargerRecord,
        vendor: str,
        model: str,
        serial_number: str | None,
        firmware_version: str | None,
        reason: str | None = None,
    ) -> tuple[ChargerRecord, datetime]:
        """Store the boot data; the answer's registration status is the current record's
        (an operator may have accepted a Pending charger since it connected)."""
        now = self.clock()
        booted = await self._submit(
            BootWrite(charger.id, now, vendor, model, serial_number, firmware_version, reason)
        )
        if isinstance(booted, Booted):
            self._closed(booted.closed, charger.ocpp_id)
            if booted.record is not None:
                return booted.record, now
        return (await self.store.charger(charger.ocpp_id)) or charger, now

    async def heartbeat(self, charger: ChargerRecord) -> datetime:
        now = self.clock()
        await self._submit(PresenceWrite(charger.id, True, now))
        return now

    async def status(self, write: StatusWrite, ocpp_id: str) -> None:
        closed = await self._submit(write)
        status: ev.ChargerStatusChanged = {
            "charger_id": str(write.charger_id),
            "ocpp_id": ocpp_id,
            "connector_id": write.connector_id,
            "ocpp_status": write.status,
            "error_code": write.error_code,
            "timestamp": write.at.isoformat(),
        }
        self.events.publish(ev.CHARGER_STATUS_CHANGED, status)
        self._closed(closed or (), ocpp_id)

    async def authorize(self, id_tag: str, charger: ChargerRecord | None) -> IdTagInfo:
        """Whether ``id_tag`` may charge at ``charger``: a tag of a site is Invalid at
        other sites' chargers (and where no charger is named)."""
        tag = await self.store.id_tag(id_tag)
        if tag is not None and tag.site_id is not None:
            site = await self.store.site_of(charger.id) if charger is not None else None
            if site != tag.site_id:
                tag = IdTagRecord(tag.id_tag, "Invalid", None, None, tag.site_id)
        return id_tag_info(tag, self.clock(), unknown_accepted=self.unknown_tags_accepted)

    async def start_transaction(self, write: StartWrite, ocpp_id: str) -> Started:
        write = dataclasses.replace(
            write,
            unknown_tags_accepted=write.unknown_tags_accepted or self.unknown_tags_accepted,
            suspect_after_s=self.session_rules.suspect_after_s,
        )
        started: Started = await self._submit(write)
        self._closed(started.superseded, ocpp_id)
        if started.refused and not started.repeated:
            # Recorded with its transaction id, but nothing started: no session.started,
            # so nothing plans current for it (docs/ocpp.md "Refused starts").
            refused: ev.SessionRefused = {
                "session_id": str(started.session_id),
                "charger_id": str(write.charger_id),
                "ocpp_id": ocpp_id,
                "connector_id": write.connector_id,
                "transaction_id": started.transaction_id,
                "id_tag": write.id_tag,
                "status": started.id_tag_info.status,
                "started_at": write.timestamp.isoformat(),
            }
            self.events.publish(ev.SESSION_REFUSED, refused)
        elif not started.repeated:
            begun: ev.SessionStarted = {
                "session_id": str(started.session_id),
                "charger_id": str(write.charger_id),
                "ocpp_id": ocpp_id,
                "connector_id": write.connector_id,
                "transaction_id": started.transaction_id,
                "id_tag": write.id_tag,
                "started_at": write.timestamp.isoformat(),
            }
            self.events.publish(ev.SESSION_STARTED, begun)
        return started

    async def stop_transaction(self, write: StopWrite, ocpp_id: str) -> Stopped:
        stopped: Stopped = await self._submit(write)
        if stopped.repeated or stopped.session_id is None:
            return stopped
        if stopped.late:
            # Closed by chargegrid before (and announced then); now completed with the
            # charger's real reading.
            completed: ev.SessionCompleted = {
                "session_id": str(stopped.session_id),
                "charger_id": str(write.charger_id),
                "ocpp_id": ocpp_id,
                "connector_id": stopped.connector_id,
                "transaction_id": write.transaction_id,
                "energy_wh": stopped.energy_wh,
                "meter_stop": write.meter_stop,
                "stopped_at": write.timestamp.isoformat(),
                "reason": write.reason,
                "completed": True,
            }
            self.events.publish(ev.SESSION_UPDATED, completed)
        elif stopped.running:
            self._stopped(
                stopped.session_id,
                write.charger_id,
                ocpp_id,
                stopped.connector_id,
                write.transaction_id,
                stopped.energy_wh,
                write.timestamp,
                write.reason,
            )
        return stopped

    async def sweep(self) -> list[Closed]:
        """Close refused starts and unresumed transactions whose time is up."""
        rules = self.session_rules
        closed: tuple[Closed, ...] = await self._submit(
            SweepWrite(self.clock(), rules.refused_timeout_s, rules.resume_timeout_s)
        )
        self._closed(closed, None)
        return list(closed)

    def _closed(self, closed: Iterable[Closed], ocpp_id: str | None) -> None:
        """Announce the running sessions chargegrid closed itself (a refused start was
        never announced as started, so its end is not either)."""
        for c in closed:
            log.info(
                "session %s (transaction %s) closed: %s", c.session_id, c.transaction_id, c.reason
            )
            if not c.running:
                continue
            self._stopped(
                c.session_id,
                c.charger_id,
                ocpp_id,
                c.connector_id,
                c.transaction_id,
                c.energy_wh,
                c.at,
                c.reason,
            )

    def _stopped(
        self,
        session_id: uuid.UUID,
        charger_id: uuid.UUID,
        ocpp_id: str | None,
        connector_id: int | None,
        transaction_id: int | str | None,
        energy_wh: float | None,
        at: datetime,
        reason: str | None,
    ) -> None:
        ended: ev.SessionStopped = {
            "session_id": str(session_id),
            "charger_id": str(charger_id),
            "ocpp_id": ocpp_id,
            "connector_id": connector_id,
            "transaction_id": transaction_id,
            "energy_wh": energy_wh,
            "stopped_at": at.isoformat(),
            "reason": reason,
        }
        self.events.publish(ev.SESSION_STOPPED, ended)

    async def meter_values(self, write: MeterWrite, ocpp_id: str) -> Metered:
        metered: Metered = await self._submit(write)
        self._reading(
            write.samples,
            metered.session_id,
            write.charger_id,
            ocpp_id,
            write.connector_id,
            write.transaction_id,
            metered.energy_wh,
        )
        return metered

    def _reading(
        self,
        samples: Sequence[Sample],
        session_id: uuid.UUID | None,
        charger_id: uuid.UUID,
        ocpp_id: str,
        connector_id: int,
        transaction_id: int | str | None,
        energy_wh: float | None,
    ) -> None:
        reading = summarise(samples)
        if reading is None:
            return
        update: ev.SessionReading = {
            "session_id": str(session_id) if session_id else None,
            "charger_id": str(charger_id),
            "ocpp_id": ocpp_id,
            "connector_id": connector_id,
            "transaction_id": transaction_id,
            "timestamp": reading.timestamp.isoformat(),
            "current": reading.current,
            "power_w": reading.power_w,
            "energy_wh": energy_wh,
            "soc": reading.soc,
            # For chargers that do not report current (control.measure).
            "power": reading.power,
            "voltage": reading.voltage,
            "current_unphased": reading.current_unphased,
            "energy_register_wh": reading.energy_register_wh,
        }
        self.events.publish(ev.SESSION_UPDATED, update)

    async def transaction_event(self, write: TxEventWrite, ocpp_id: str) -> TxEventResult:
        """A 2.0.1 TransactionEvent: stored (once per seqNo), then what it changed is
        published as the 1.6 messages' events are (session.started/refused/stopped and
        a session.updated reading), so the load manager need not know the version."""
        if write.id_tag is not None:
            # What authorizing its idToken depends on (the store reads these only then;
            # a copy of every meter-value event cost ~10 µs).
            write = dataclasses.replace(
                write,
                unknown_tags_accepted=write.unknown_tags_accepted or self.unknown_tags_accepted,
                suspect_after_s=self.session_rules.suspect_after_s,
            )
        result: TxEventResult = await self._submit(write)
        if result.repeated:
            return result
        self._closed(result.superseded, ocpp_id)
        sid, cid, tx = str(result.session_id), str(write.charger_id), write.transaction_id
        if result.began:
            begun: ev.SessionStarted = {
                "session_id": sid,
                "charger_id": cid,
                "ocpp_id": ocpp_id,
                "connector_id": result.evse_number,
                "transaction_id": tx,
                "id_tag": write.id_tag or "",
                "started_at": write.timestamp.isoformat(),
            }
            self.events.publish(ev.SESSION_STARTED, begun)
        elif result.refused and result.id_tag_info is not None:
            refused: ev.SessionRefused = {
                "session_id": sid,
                "charger_id": cid,
                "ocpp_id": ocpp_id,
                "connector_id": result.evse_number,
                "transaction_id": tx,
                "id_tag": write.id_tag or "",
                "status": result.id_tag_info.status,
                "started_at": write.timestamp.isoformat(),
            }
            self.events.publish(ev.SESSION_REFUSED, refused)
        self._reading(
            write.samples,
            result.session_id,
            write.charger_id,
            ocpp_id,
            result.evse_number,
            tx,
            result.energy_wh,
        )
        if result.was_running and (result.ended or result.refused):
            reason = write.stopped_reason if result.ended else "DeAuthorized"
            self._stopped(
                result.session_id,
                write.charger_id,
                ocpp_id,
                result.evse_number,
                tx,
                result.energy_wh,
                write.timestamp,
                reason,
            )
        elif result.late:
            completed: ev.SessionCompleted = {
                "session_id": sid,
                "charger_id": cid,
                "ocpp_id": ocpp_id,
                "connector_id": result.evse_number,
                "transaction_id": tx,
                "energy_wh": result.energy_wh,
                "meter_stop": result.energy_wh or 0.0,
                "stopped_at": write.timestamp.isoformat(),
                "reason": write.stopped_reason,
                "completed": True,
            }
            self.events.publish(ev.SESSION_UPDATED, completed)
        return result

    async def external_limit(self, write: ExternalLimitWrite, ocpp_id: str) -> None:
        """A limit from outside the CSMS on one EVSE or the station (2.0.1
        NotifyChargingLimit), or its end: stored on the EVSEs; the control loop re-reads
        the charger and plans within it."""
        await self._submit(write)
        changed: ev.ConfigChanged = {
            "charger_id": str(write.charger_id),
            "ocpp_id": ocpp_id,
            "external_limit_a": write.amps,
            "evse_number": write.evse_number,
        }
        self.events.publish(ev.CONFIG_CHANGED, changed)

    async def variables(self, write: VariablesWrite) -> None:
        """Device-model attributes a 2.0.1 charger reported, answered or set."""
        if write.variables:
            await self._submit(write)

    async def ev_needs(self, write: EvNeedsWrite, ocpp_id: str) -> uuid.UUID | None:
        """An EV's departure time and energy (ISO 15118 via NotifyEVChargingNeeds): they
        become its session's deadline; the control loop re-plans on session.updated."""
        session_id: uuid.UUID | None = await self._submit(write)
        if session_id is not None:
            needs: ev.SessionNeeds = {
                "session_id": str(session_id),
                "charger_id": str(write.charger_id),
                "ocpp_id": ocpp_id,
                "connector_id": write.evse_number,
                "departure_at": write.departure_time.isoformat() if write.departure_time else None,
                "energy_wanted_wh": write.energy_wanted_wh,
                "ev_max_current": write.ev_max_current,
                "needs": True,
            }
            self.events.publish(ev.SESSION_UPDATED, needs)
        return session_id

    async def configuration_learnt(self, write: ConfigWrite, ocpp_id: str) -> None:
        """Store what the charger said of itself; announced when it changes what the
        load manager plans with (the settings' state, the wiring)."""
        await self._submit(write)
        if write.config_sync is None and write.connector_phase_rotation is None:
            return
        learnt: ev.ConfigChanged = {"charger_id": str(write.charger_id), "ocpp_id": ocpp_id}
        if write.config_sync is not None:
            learnt["config_sync"] = write.config_sync
        self.events.publish(ev.CONFIG_CHANGED, learnt)

    async def notice(self, charger: ChargerRecord, action: str, payload: dict[str, Any]) -> None:
        """Store a notice (DataTransfer, firmware, diagnostics, ...) and publish it. A
        SecurityEventNotification also goes to the security event log (its timestamp
        checked before anything is stored)."""
        security = _security_event(charger, action, payload)
        await self._submit(NoticeWrite(charger.id, action, payload, self.clock()))
        topic = ev.CHARGER_DATA_TRANSFER if action == "DataTransfer" else ev.CHARGER_NOTICE
        notice: ev.ChargerNotice = {
            "charger_id": str(charger.id),
            "ocpp_id": charger.ocpp_id,
            "action": action,
            "payload": payload,
        }
        self.events.publish(topic, notice)
        if security is not None and self.security_events is not None:
            await self.security_events.record(security, charger.ocpp_id)


def _security_event(
    charger: ChargerRecord, action: str, payload: dict[str, Any]
) -> SecurityEvent | None:
    if action != "SecurityEventNotification":
        return None
    at = parse_timestamp(payload["timestamp"])
    return SecurityEvent(charger.id, "charger", payload["type"], payload.get("techInfo"), at)
