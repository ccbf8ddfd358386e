"""OCPP 2.0.1 ``meterValue`` lists to :class:`Sample` records in base units.

2.0.1 sends numbers (not strings) and a unit with a power-of-ten ``multiplier``; the
default measurand is the energy register and the default unit Wh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chargegrid.ocpp.times import parse_timestamp
from chargegrid.services.charger_ports import Sample

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
_KILO = {"kW": "W", "kWh": "Wh", "kvar": "var", "kvarh": "varh", "kVA": "VA"}
_DEFAULT_UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Energy.Active.Export.Register": "Wh",
    "Power.Active.Import": "W",
    "Power.Active.Export": "W",
    "Current.Import": "A",
    "Current.Export": "A",
    "Current.Offered": "A",
    "Voltage": "V",
    "SoC": "Percent",
}


def parse_meter_values(meter_values: Iterable[dict[str, Any]]) -> list[Sample]:
    # Runs for every TransactionEvent with meter values: local names, and each Sample
    # made as the tuple it is (the NamedTuple's own __new__ is a Python-level call).
    samples: list[Sample] = []
    append = samples.append
    make = tuple.__new__
    defaults = _DEFAULT_UNITS
    kilo = _KILO
    for meter_value in meter_values:
        at = parse_timestamp(meter_value["timestamp"], "meterValue.timestamp")
        for sv in meter_value["sampledValue"]:
            get = sv.get
            measurand = get("measurand", DEFAULT_MEASURAND)
            value = float(sv["value"])
            unit_of_measure = get("unitOfMeasure")
            if unit_of_measure is None:
                unit = defaults.get(measurand)
            else:
                unit = (
                    unit_of_measure["unit"]
                    if "unit" in unit_of_measure
                    else defaults.get(measurand)
                )
                multiplier = unit_of_measure.get("multiplier")
                if multiplier:
                    value *= 10.0**multiplier
            if unit in kilo:
                value *= 1000.0
                unit = kilo[unit]
            append(
                make(
                    Sample,
                    (at, measurand, value, get("phase"), unit, get("context"), get("location")),
                )
            )
    return samples
