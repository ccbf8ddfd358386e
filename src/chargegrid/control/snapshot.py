"""A site as the control loop sees it: plain frozen values read from the store.

The loop keeps one snapshot per site and reloads it only when a ``config.changed`` or
session event says it moved, so a meter value or an API PATCH does not cost a full
read of a thousand chargers.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chargegrid.control.profiles import ChargerCaps
from chargegrid.domain.limits import Override
from chargegrid.store import models as m


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """The site's main fuse or a circuit."""

    id: str
    kind: str  # "site" | "circuit"
    name: str
    parent_id: str | None
    max_current: float
    override: Override
    rotation: str
    meter_id: str | None
    offline_reserved_current: float
    priority: float = 1.0
    phasor_lines: bool = False
    # A delta-wye transformer: (ratio, primary current per line); None: a plain fuse.
    transformer: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    connector_id: int
    power_type: str
    rotation: str
    max_amperage: float
    max_electric_power: float | None
    line_to_line: bool = False


@dataclass(frozen=True, slots=True)
class EvseSpec:
    number: int
    enabled: bool
    connectors: tuple[ConnectorSpec, ...]
    external_limit_a: float | None = None  # 2.0.1 NotifyChargingLimit, per phase


@dataclass(frozen=True, slots=True)
class ChargerSpec:
    id: str
    ocpp_id: str
    node_id: str  # its circuit, or the site
    online: bool
    caps: ChargerCaps
    max_charge_current: float | None
    min_charge_current: float
    max_charge_phases: int
    offline_charge_current: float
    offline_charge_phase: int
    priority: float
    evses: tuple[EvseSpec, ...]
    # The only currents it accepts, or their step (chargers' allowed_currents).
    allowed_currents: tuple[float, ...] | None = None
    current_step: float | None = None

    def connector(self, evse_number: int, connector_id: int | None) -> ConnectorSpec | None:
        """The session's connector: by its charger-wide id, else the EVSE's first."""
        for evse in self.evses:
            for connector in evse.connectors:
                if connector.connector_id == connector_id:
                    return connector
        for evse in self.evses:
            if evse.number == evse_number and evse.connectors:
                return evse.connectors[0]
        return None


@dataclass(frozen=True, slots=True)
class SessionSpec:
    id: str
    charger_id: str
    evse_number: int
    connector_id: int | None
    transaction_id: int | str | None
    started_at: datetime
    priority: float | None
    ev_max_current: float | None
    departure_time: datetime | None
    energy_wanted_wh: float | None
    energy_wh: float
    # Where the deadline came from (domain/deadline_sources.py), for the load view.
    departure_source: str | None = None
    departure_confidence: float | None = None
    energy_wanted_source: str | None = None


@dataclass(frozen=True, slots=True)
class MeterSpec:
    id: str
    max_age_s: float


@dataclass(frozen=True, slots=True)
class SiteSnapshot:
    site_id: str
    name: str
    voltage: float
    three_to_one_phase_switch_current: float | None
    offline_limit_to_min_current: bool
    nodes: tuple[NodeSpec, ...]  # the site first
    chargers: tuple[ChargerSpec, ...]
    sessions: tuple[SessionSpec, ...]
    meters: tuple[MeterSpec, ...]

    def charger(self, charger_id: str) -> ChargerSpec | None:
        for charger in self.chargers:
            if charger.id == charger_id:
                return charger
        return None


def _override(row: m.AvailableCurrentOverride) -> Override:
    return Override(
        (row.available_current_l1, row.available_current_l2, row.available_current_l3),
        row.available_current_expires_at,
    )


# Rows are read with Core selects (no ORM identity map: a thousand chargers in a few
# ms); a row has the model's column names as attributes.
Row = Any


def caps_of(charger: Row, voltage: float) -> ChargerCaps:
    units = {str(u).upper() for u in charger.charging_rate_units or ()}
    watts_only = bool(units) and not units & {"A", "CURRENT"}
    return ChargerCaps(
        ocpp_version=charger.ocpp_version or "1.6",
        max_stack_level=charger.max_stack_level if charger.max_stack_level is not None else 8,
        rate_unit="W" if watts_only else "A",
        voltage=voltage,
        phase_switching=bool(charger.phase_switching),
    )


async def _load_site_row(
    db: AsyncSession, site_id: uuid.UUID
) -> tuple[m.Site, list[NodeSpec]] | None:
    site = await db.get(m.Site, site_id, populate_existing=True)
    if site is None:
        return None
    sid = str(site.id)
    nodes = [
        NodeSpec(
            sid,
            "site",
            site.name,
            None,
            site.max_current,
            _override(site),
            "RST",
            str(site.electricity_meter_id) if site.electricity_meter_id else None,
            0.0,
        )
    ]
    circuits = (await db.scalars(select(m.Circuit).where(m.Circuit.site_id == site_id))).all()
    nodes += [
        NodeSpec(
            str(c.id),
            "circuit",
            c.name,
            str(c.parent_id) if c.parent_id else sid,
            c.max_current,
            _override(c),
            c.phase_rotation,
            str(c.electricity_meter_id) if c.electricity_meter_id else None,
            c.offline_reserved_current,
            c.priority,
            bool(c.phasor_lines),
            None
            if c.transformer_ratio is None or c.transformer_primary_current is None
            else (c.transformer_ratio, c.transformer_primary_current),
        )
        for c in circuits
    ]
    return site, nodes


async def _meters(db: AsyncSession, site_id: uuid.UUID) -> tuple[MeterSpec, ...]:
    meters = (
        await db.scalars(select(m.ElectricityMeter).where(m.ElectricityMeter.site_id == site_id))
    ).all()
    return tuple(MeterSpec(str(x.id), float(x.max_age_s)) for x in meters)


async def reload_tree(db: AsyncSession, snapshot: SiteSnapshot) -> SiteSnapshot | None:
    """The snapshot with its site, circuits and meters read again and its chargers and
    sessions kept: what an available-current PATCH needs, without reading every charger."""
    loaded = await _load_site_row(db, uuid.UUID(snapshot.site_id))
    if loaded is None:
        return None
    site, nodes = loaded
    return replace(
        snapshot,
        name=site.name,
        three_to_one_phase_switch_current=site.three_to_one_phase_switch_current,
        offline_limit_to_min_current=site.offline_limit_to_min_current,
        nodes=tuple(nodes),
        meters=await _meters(db, uuid.UUID(snapshot.site_id)),
    )


async def reload_sessions(db: AsyncSession, snapshot: SiteSnapshot) -> SiteSnapshot:
    """The snapshot with its active sessions read again (a session started or stopped)."""
    ids = [uuid.UUID(c.id) for c in snapshot.chargers]
    return replace(snapshot, sessions=tuple(_session(s) for s in await _active(db, ids)))


async def reload_chargers(
    db: AsyncSession, snapshot: SiteSnapshot, charger_ids: Collection[str]
) -> SiteSnapshot | None:
    """The snapshot with some chargers read again and the rest kept: what a charger
    said of itself (its configuration's state, its wiring, an external limit) needs
    its own rows, not the site's hundreds. ``None`` when one of them is gone or left
    the site, or is new to it: the caller reads the whole site then."""
    ids = [uuid.UUID(c) for c in charger_ids]
    known = {c.id for c in snapshot.chargers}
    rows = _rows(await db.execute(select(_T.chargers).where(_T.chargers.c.id.in_(ids))))
    if len(rows) != len(ids) or any(
        str(r.id) not in known or str(r.site_id) != snapshot.site_id for r in rows
    ):
        return None
    site = await db.get(m.Site, uuid.UUID(snapshot.site_id))
    if site is None:
        return None
    evses: dict[uuid.UUID, list[Row]] = defaultdict(list)
    for evse in _rows(await db.execute(select(_T.evses).where(_T.evses.c.charger_id.in_(ids)))):
        evses[evse.charger_id].append(evse)
    connectors: dict[uuid.UUID, list[Row]] = defaultdict(list)
    for conn in _rows(
        await db.execute(select(_T.connectors).where(_T.connectors.c.charger_id.in_(ids)))
    ):
        connectors[conn.evse_id].append(conn)
    fresh = {str(r.id): _charger(r, evses[r.id], connectors, snapshot.site_id, site) for r in rows}
    return replace(snapshot, chargers=tuple(fresh.get(c.id, c) for c in snapshot.chargers))


def with_online(
    snapshot: SiteSnapshot, charger_id: str, online: bool, ocpp_version: str | None = None
) -> SiteSnapshot:
    """The snapshot with one charger's link state changed, read from the event itself,
    and the OCPP version its new connection negotiated (its profiles are written in it:
    the failsafe that follows at once must not go out in the last connection's)."""

    def changed(c: ChargerSpec) -> ChargerSpec:
        if ocpp_version is None or c.caps.ocpp_version == ocpp_version:
            return replace(c, online=online)
        return replace(c, online=online, caps=replace(c.caps, ocpp_version=ocpp_version))

    return replace(
        snapshot,
        chargers=tuple(changed(c) if c.id == charger_id else c for c in snapshot.chargers),
    )


async def _active(db: AsyncSession, ids: list[uuid.UUID]) -> list[Row]:
    if not ids:
        return []
    sessions = _T.sessions
    return _rows(
        await db.execute(
            # A refused start is recorded but not running: it gets no current.
            select(sessions).where(
                sessions.c.charger_id.in_(ids),
                sessions.c.stopped_at.is_(None),
                sessions.c.authorization_status == "Accepted",
            )
        )
    )


class _T:
    """The tables behind the models, for Core selects."""

    chargers = m.Charger.__table__
    evses = m.Evse.__table__
    connectors = m.Connector.__table__
    sessions = m.ChargingSession.__table__


def _rows(result: Any) -> list[Row]:
    return list(result.all())


async def load_site(db: AsyncSession, site_id: uuid.UUID) -> SiteSnapshot | None:
    loaded = await _load_site_row(db, site_id)
    if loaded is None:
        return None
    site, nodes = loaded
    sid = str(site.id)
    chargers = _rows(await db.execute(select(_T.chargers).where(_T.chargers.c.site_id == site_id)))
    ids = [c.id for c in chargers]
    evses: dict[uuid.UUID, list[Row]] = defaultdict(list)
    connectors: dict[uuid.UUID, list[Row]] = defaultdict(list)
    sessions: list[Row] = []
    if ids:
        for evse in _rows(
            await db.execute(
                select(_T.evses).join(_T.chargers).where(_T.chargers.c.site_id == site_id)
            )
        ):
            evses[evse.charger_id].append(evse)
        for conn in _rows(
            await db.execute(
                select(_T.connectors).join(_T.chargers).where(_T.chargers.c.site_id == site_id)
            )
        ):
            connectors[conn.evse_id].append(conn)
        sessions = await _active(db, ids)
    return SiteSnapshot(
        site_id=sid,
        name=site.name,
        voltage=site.nominal_voltage,
        three_to_one_phase_switch_current=site.three_to_one_phase_switch_current,
        offline_limit_to_min_current=site.offline_limit_to_min_current,
        nodes=tuple(nodes),
        chargers=tuple(_charger(c, evses[c.id], connectors, sid, site) for c in chargers),
        sessions=tuple(_session(s) for s in sessions),
        meters=await _meters(db, site_id),
    )


def _charger(
    c: Row,
    evses: list[Row],
    connectors: dict[uuid.UUID, list[Row]],
    site_id: str,
    site: m.Site,
) -> ChargerSpec:
    return ChargerSpec(
        id=str(c.id),
        ocpp_id=c.ocpp_id,
        node_id=str(c.circuit_id) if c.circuit_id else site_id,
        online=c.online,
        caps=caps_of(c, site.nominal_voltage),
        max_charge_current=c.max_charge_current,
        min_charge_current=c.min_charge_current,
        max_charge_phases=c.max_charge_phases,
        offline_charge_current=c.offline_charge_current,
        offline_charge_phase=c.offline_charge_phase,
        priority=c.priority,
        evses=tuple(
            EvseSpec(
                e.evse_number,
                e.enabled,
                tuple(
                    ConnectorSpec(
                        k.connector_id,
                        k.power_type,
                        k.phase_rotation,
                        float(k.max_amperage),
                        k.max_electric_power,
                        bool(k.line_to_line),
                    )
                    for k in sorted(connectors[e.id], key=lambda k: k.connector_id)
                ),
                e.external_limit_a,
            )
            for e in sorted(evses, key=lambda e: e.evse_number)
        ),
        allowed_currents=tuple(c.allowed_currents) if c.allowed_currents else None,
        current_step=c.current_step,
    )


def _session(s: Row) -> SessionSpec:
    return SessionSpec(
        id=str(s.id),
        charger_id=str(s.charger_id),
        evse_number=s.evse_number,
        connector_id=s.connector_id,
        transaction_id=s.transaction_id
        if s.transaction_id is not None
        else s.remote_transaction_id,
        started_at=s.started_at,
        priority=s.priority,
        ev_max_current=s.ev_max_current,
        departure_time=s.departure_time,
        energy_wanted_wh=s.energy_wanted_wh,
        energy_wh=s.energy_wh,
        departure_source=s.departure_source,
        departure_confidence=s.departure_confidence,
        energy_wanted_source=s.energy_wanted_source,
    )
