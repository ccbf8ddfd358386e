"""OCPP 1.6 ``meterValue`` lists to :class:`Sample` records in base units."""

from __future__ import annotations

from collections.abc import Iterable
from math import isfinite
from typing import Any

from chargegrid.ocpp.errors import ErrorCode, OcppCallError
from chargegrid.ocpp.times import parse_timestamp
from chargegrid.services.charger_ports import Sample

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
# Kilo-units are stored in base units so every reading compares directly.
_SCALE = {
    "kW": (1000.0, "W"),
    "kWh": (1000.0, "Wh"),
    "kvar": (1000.0, "var"),
    "kvarh": (1000.0, "varh"),
    "kVA": (1000.0, "VA"),
}


def parse_meter_values(meter_values: Iterable[dict[str, Any]]) -> list[Sample]:
    """Every sampled value in base units; one that is not a finite number, or a
    timestamp outside what ``parse_timestamp`` takes, is a PropertyConstraintViolation
    naming the field (nothing of the message is stored)."""
    # Runs for every MeterValues message: local names and positional arguments on purpose.
    samples: list[Sample] = []
    append = samples.append
    scales = _SCALE
    for meter_value in meter_values:
        at = parse_timestamp(meter_value["timestamp"], "meterValue.timestamp")
        for sv in meter_value["sampledValue"]:
            get = sv.get
            if get("format") == "SignedData":
                continue  # a signed blob, not a number; the plain value comes beside it
            try:
                value = float(sv["value"])
            except ValueError:
                raise OcppCallError(
                    ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                    f"sampledValue.value {sv['value']!r} is not a number",
                    {"field": "sampledValue.value"},
                ) from None
            unit = get("unit")
            scale = scales.get(unit) if unit is not None else None
            if scale is not None:
                value *= scale[0]
                unit = scale[1]
            if not isfinite(value):  # "NaN", "Infinity", "1e309", or 1e308 kWh in Wh
                raise OcppCallError(
                    ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                    f"sampledValue.value {sv['value']!r} is not a finite number",
                    {"field": "sampledValue.value"},
                )
            append(
                Sample(
                    at,
                    get("measurand", DEFAULT_MEASURAND),
                    value,
                    get("phase"),
                    unit,
                    get("context"),
                    get("location"),
                )
            )
    return samples
