"""Current per connector terminal from whatever a charger's meter reports.

Many chargers never send ``Current.Import``: only ``Power.Active.Import`` and the energy
register. The load manager still needs amperes, so the best the message offers is used:

1. **current**: ``Current.Import`` per phase; else one without a phase, on every terminal
   in use (if it is the sum of the phases, that over-states each: the safe side);
2. **power**: per-phase power ÷ that phase's voltage; else total power ÷ (voltage x
   terminals in use); a DC charger's input is a balanced 3-phase load, I = P / (3·V_LN)
   at the site's nominal voltage (its ``Voltage`` measurand is the DC side's);
3. **energy**: the register's rate between two samples, as if it were total power.

Voltage: the charger's ``Voltage`` (line-to-neutral) where it is plausible, else the
site's nominal voltage. Terminals in use: the ones learnt from per-phase readings, else
the connector's (and the charger's, and the limit's) phase count.

A total spread over terminals says nothing about which terminal carries what unless
only one is in use, or the car's phases were learnt, or it is a DC charger's balanced
input. Such a reading is marked ``split_known=False``: it must not teach the learner
phases or caps, and it must not be subtracted from a meter's reading per phase (a
1-phase car on a 3-phase connector would hide 2/3 of its load on one phase and invent
load on the others).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

Terminals = tuple[float | None, float | None, float | None]
NONE3: Terminals = (None, None, None)
_KEYS = ("l1", "l2", "l3")


class Source(StrEnum):
    CURRENT = "current"
    POWER = "power"
    ENERGY = "energy"


@dataclass(frozen=True, slots=True)
class MeasureSettings:
    # A register in whole Wh over a few seconds is mostly rounding (11 kW for 5 s is
    # 15 Wh +- 1); ten seconds keeps the error near 3 %.
    energy_min_s: float = 10.0
    # An average over longer hides what the car does now (a car that started halfway
    # would read as half its draw); such a pair gives no rate.
    energy_max_s: float = 900.0
    # A Voltage outside nominal x (1 -+ this) is a reading error or another quantity.
    voltage_band: float = 0.25


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One ``session.updated`` payload's readings (``services.charger_messages``)."""

    at: float | None  # the charger's sample time, POSIX seconds
    current: Terminals
    current_unphased: float | None
    power: Terminals
    power_w: float | None
    voltage: Terminals
    energy_wh: float | None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> MeterSample:
        return cls(
            at=_timestamp(payload.get("timestamp")),
            current=_three(payload.get("current")),
            current_unphased=_num(payload.get("current_unphased")),
            power=_three(payload.get("power")),
            power_w=_num(payload.get("power_w")),
            voltage=_three(payload.get("voltage")),
            energy_wh=_num(payload.get("energy_register_wh")),
        )


@dataclass(frozen=True, slots=True)
class Measured:
    current: Terminals  # A per connector terminal
    source: Source | None
    split_known: bool  # each terminal's value is its own, not a total spread evenly


NOTHING = Measured(NONE3, None, False)


def derive(
    sample: MeterSample,
    *,
    in_use: tuple[int, ...],
    in_use_known: bool,
    dc: bool,
    nominal_v: float,
    energy_rate_w: float | None = None,
    settings: MeasureSettings | None = None,
) -> Measured:
    """The current per terminal ``sample`` shows, and where it came from.

    ``in_use``: the terminals the car is taken to use (1-based); ``in_use_known``: they
    were learnt (or there is only one choice), so spreading a total over them is exact.
    ``energy_rate_w``: the register's rate up to this sample (``EnergyRates``).
    """
    s = settings or MeasureSettings()
    if any(v is not None for v in sample.current):
        return Measured(sample.current, Source.CURRENT, True)
    spread_known = in_use_known or len(in_use) == 1
    if sample.current_unphased is not None and not dc:
        return Measured(_spread(sample.current_unphased, in_use), Source.CURRENT, spread_known)
    if any(v is not None for v in sample.power):
        values = tuple(
            None if p is None else max(0.0, p) / _volts(sample.voltage[i], nominal_v, s)
            for i, p in enumerate(sample.power)
        )
        return Measured((values[0], values[1], values[2]), Source.POWER, True)
    for watts, source in ((sample.power_w, Source.POWER), (energy_rate_w, Source.ENERGY)):
        if watts is None:
            continue
        watts = max(0.0, watts)
        if dc:
            return Measured(_spread(watts / (3.0 * nominal_v), (1, 2, 3)), source, True)
        known = [
            _volts(sample.voltage[t - 1], nominal_v, s)
            for t in in_use
            if sample.voltage[t - 1] is not None
        ]
        volts = sum(known) / len(known) if known else nominal_v
        per_terminal = watts / (volts * max(1, len(in_use)))
        return Measured(_spread(per_terminal, in_use), source, spread_known)
    return NOTHING


class EnergyRates:
    """The energy register's rate per session, from its recent samples (charger time)."""

    def __init__(self, settings: MeasureSettings | None = None) -> None:
        self.settings = settings or MeasureSettings()
        self._seen: dict[str, deque[tuple[float, float]]] = {}

    def observe(self, session_id: str, at: float | None, wh: float | None) -> float | None:
        """Record a register sample; the rate in W from the newest sample at least
        ``energy_min_s`` older, or None (too few, too far apart, a reset, a replay)."""
        if at is None or wh is None:
            return None
        s = self.settings
        history = self._seen.setdefault(session_id, deque(maxlen=64))
        if history and at <= history[-1][0]:
            return None  # a replayed or out-of-order message tells nothing new
        if history and wh < history[-1][1]:
            history.clear()  # the register was reset or replaced
        while history and at - history[0][0] > s.energy_max_s:
            history.popleft()
        base = None
        for then, value in reversed(history):
            if at - then >= s.energy_min_s:
                base = (then, value)
                break
        history.append((at, wh))
        if base is None:
            return None
        return (wh - base[1]) * 3600.0 / (at - base[0])

    def forget(self, session_id: str) -> None:
        self._seen.pop(session_id, None)


def _volts(value: float | None, nominal: float, s: MeasureSettings) -> float:
    if value is None or abs(value - nominal) > s.voltage_band * nominal:
        return nominal
    return value


def _spread(amps: float, terminals: tuple[int, ...]) -> Terminals:
    values: list[float | None] = [None, None, None]
    for t in terminals:
        if 1 <= t <= 3:
            values[t - 1] = amps
    return (values[0], values[1], values[2])


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _three(value: object) -> Terminals:
    if not isinstance(value, dict):
        return NONE3
    a, b, c = (_num(value.get(k)) for k in _KEYS)
    return (a, b, c)


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
