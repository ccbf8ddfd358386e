"""OCPP 2.0.1 ``meterValue`` lists to :class:`Sample` records in base units.

2.0.1 sends numbers (not strings) and a unit with a power-of-ten ``multiplier``; the
default measurand is the energy register and the default unit Wh.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import isfinite
from typing import Any

from chargegrid.ocpp.errors import ErrorCode, OcppCallError
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


def _not_finite(sv: dict[str, Any]) -> OcppCallError:
    return OcppCallError(
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        f"sampledValue.value {sv['value']!r} with unitOfMeasure {sv.get('unitOfMeasure')!r}"
        " is not a finite number",
        {"field": "sampledValue.value"},
    )


def parse_meter_values(meter_values: Iterable[dict[str, Any]]) -> list[Sample]:
    """Every sampled value in base units; one that is not a finite number once scaled,
    or a timestamp outside what ``parse_timestamp`` takes, is a
    PropertyConstraintViolation naming the field (nothing of the message is stored)."""
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
                    try:
                        value *= 10.0**multiplier
                    except OverflowError:  # 10.0 ** 400
                        raise _not_finite(sv) from None
            if unit in kilo:
                value *= 1000.0
                unit = kilo[unit]
            if not isfinite(value):  # 1e308 kWh (orjson itself refuses 1e309)
                raise _not_finite(sv)
            append(
                make(
                    Sample,
                    (at, measurand, value, get("phase"), unit, get("context"), get("location")),
                )
            )
    return samples
