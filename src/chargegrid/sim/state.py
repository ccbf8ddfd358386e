"""What a simulated charger is (its spec) and what it knows (connectors, transactions,
the simulated clock): plain data shared by the charger's behaviour modules."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from chargegrid.domain.phases import PhaseRotation
from chargegrid.sim.car import Car

OcppVersion = Literal["1.6", "2.0.1"]
# A transaction's id: the CSMS's integer in 1.6, the station's own string in 2.0.1.
TxId = int | str


def ocpp_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ChargerSpec:
    ocpp_id: str
    connectors: int = 1
    phases: int = 3  # conductors wired to each connector
    rotations: tuple[str, ...] = ()  # per connector, e.g. ("RST", "STR"); default identity
    # Per connector, to the GRID (composed through the site's circuits) when it differs
    # from ``rotations`` (which is to the charger's own supply, as OCPP reports it).
    grid_rotations: tuple[str, ...] = ()
    max_current: float = 32.0
    password: str | None = None
    vendor: str = "chargegrid"
    model: str = "SimBox"
    ocpp_version: OcppVersion = "1.6"
    # 2.0.1: the EVSEs can switch a 1-phase car to another phase (phaseToUse); reported
    # as SmartChargingCtrlr.ACPhaseSwitchingSupported (only ever true on 3-phase EVSEs).
    ac_phase_switching: bool = True

    def rotation(self, connector_id: int) -> PhaseRotation:
        if connector_id <= len(self.rotations):
            return PhaseRotation.parse(self.rotations[connector_id - 1])
        return PhaseRotation.identity(self.phases)

    def grid_rotation(self, connector_id: int) -> PhaseRotation:
        if connector_id <= len(self.grid_rotations):
            return PhaseRotation.parse(self.grid_rotations[connector_id - 1])
        return self.rotation(connector_id)


@dataclass
class Transaction:
    """One transaction as the charger sees it. Its StartTransaction and StopTransaction
    are built from this object, so a late answer can never touch the next car's one."""

    id_tag: str
    started: datetime
    meter_start: int
    id: TxId | None = None  # 1.6: the CSMS's transactionId, once StartTransaction is answered
    refused: bool = False  # StartTransaction answered with a status other than Accepted
    answered: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)


@dataclass
class ConnectorState:
    number: int
    rotation: PhaseRotation  # to the charger's supply (reported as ConnectorPhaseRotation)
    grid: PhaseRotation  # to the site's grid phases (where the draw really lands)
    status: str = "Available"
    car: Car | None = None
    tx: Transaction | None = None  # the transaction the charger believes is running
    # Fault ``charge_after_refused_start``: the start was refused, the charger treats it
    # as not started, yet its contactor stays closed and the car draws.
    drawing_without_tx: bool = False
    register_wh: float = 0.0
    operative: bool = True
    plugged_at: float = 0.0  # simulated seconds
    leave_at: float | None = None  # simulated seconds: when the car unplugs
    ignore_until: float = 0.0  # simulated seconds
    last_meter: float = 0.0  # simulated seconds
    limit: float | None = None
    phases_offered: int = 3
    # The supply conductor (1..3) a 1-phase draw uses (2.0.1 phaseToUse); None: the first.
    phase_to_use: int | None = None

    @property
    def tx_id(self) -> TxId | None:
        return self.tx.id if self.tx is not None else None

    @property
    def tx_started(self) -> datetime | None:
        return self.tx.started if self.tx is not None else None

    @property
    def in_transaction(self) -> bool:
        return self.tx is not None

    @property
    def energized(self) -> bool:
        """The contactor is closed: a car here can draw."""
        return self.car is not None and (self.tx is not None or self.drawing_without_tx)


@dataclass
class SimClock:
    """Simulated seconds run ``speed`` times faster than real ones (physics only:
    timestamps sent over OCPP are real wall-clock time)."""

    speed: float = 1.0
    _t0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed
