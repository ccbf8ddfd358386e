"""What a simulated charger's meter reports in MeterValues.

The reading is of what the car really draws; the measurands depend on the meter
(``Faults.meter_report``): many field chargers send power and energy only.
"""

from __future__ import annotations

from typing import Any

from chargegrid.domain.units import DEFAULT_NOMINAL_VOLTAGE
from chargegrid.sim.faults import MeterReport


def sampled_values(
    report: MeterReport,
    *,
    amps: float,
    conductors: int,
    phases_wired: int,
    register_wh: float,
    soc: float,
    phase: int | None = None,
) -> list[dict[str, Any]]:
    """``amps`` per conductor in use (the first ``conductors`` of ``phases_wired``; a
    single conductor on ``phase`` instead of the first when given)."""
    per_phase = [amps if i <= conductors else 0.0 for i in range(1, phases_wired + 1)]
    if conductors == 1 and phase is not None and 1 <= phase <= phases_wired:
        per_phase = [amps if i == phase else 0.0 for i in range(1, phases_wired + 1)]
    energy = {
        "value": f"{register_wh:.1f}",
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
    }
    if report == "phase_power":
        return [
            {
                "value": f"{a * DEFAULT_NOMINAL_VOLTAGE:.1f}",
                "measurand": "Power.Active.Import",
                "phase": f"L{i}",
                "unit": "W",
            }
            for i, a in enumerate(per_phase, start=1)
        ] + [energy]
    power = {
        "value": f"{sum(per_phase) * DEFAULT_NOMINAL_VOLTAGE:.1f}",
        "measurand": "Power.Active.Import",
        "unit": "W",
    }
    if report == "power":
        return [energy, power]
    currents = [
        {"value": f"{a:.2f}", "measurand": "Current.Import", "phase": f"L{i}", "unit": "A"}
        for i, a in enumerate(per_phase, start=1)
    ]
    soc_value = {"value": f"{soc:.1f}", "measurand": "SoC", "unit": "Percent"}
    return [*currents, power, energy, soc_value]
