"""Fast payload validation: the JSON schemas the ``ocpp`` package ships, compiled once.

fastjsonschema turns each schema into plain Python (≈ 5 µs for a MeterValues frame,
against ≈ 0.4 ms for the ``jsonschema`` validation the ``ocpp`` package runs), so
validation can stay on for every frame in both directions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from chargegrid.ocpp.errors import ErrorCode, OcppCallError

Validator = Callable[[Any], Any]

# What a 1.6 charge point may send (core, firmware, smart charging, security whitepaper).
CHARGER_ACTIONS_16 = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        "SecurityEventNotification",
        "SignCertificate",
        "LogStatusNotification",
        "SignedFirmwareStatusNotification",
    }
)


def central_system_actions(version: str = "v16") -> frozenset[str]:
    """What a central system may send to a charger: every action but the charger's own
    (DataTransfer goes both ways)."""
    return (schemas(version).actions() - CHARGER_ACTIONS_16) | {"DataTransfer"}


# fastjsonschema names the failed keyword; OCPP 1.6J §4.2.3 names the error class.
_RULE_CODES: dict[str, ErrorCode] = {
    "required": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMATION_VIOLATION,
}


@dataclass(frozen=True)
class SchemaSet:
    """Compiled request and response validators of one OCPP version."""

    version: str
    requests: Mapping[str, Validator]
    responses: Mapping[str, Validator]

    def actions(self) -> frozenset[str]:
        return frozenset(self.requests)

    def check_request(self, action: str, payload: Any) -> None:
        _run(self.requests, action, payload)

    def check_response(self, action: str, payload: Any) -> None:
        _run(self.responses, action, payload)


def _run(validators: Mapping[str, Validator], action: str, payload: Any) -> None:
    validator = validators.get(action)
    if validator is None:
        raise OcppCallError(ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}")
    try:
        validator(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        code = _RULE_CODES.get(exc.rule or "", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
        raise OcppCallError(code, exc.message, {"field": exc.name}) from None


@cache
def schemas(version: str = "v16") -> SchemaSet:
    """Compile every schema of ``version`` (once per process; ≈ 0.1 s)."""
    root = resources.files("ocpp") / version / "schemas"
    requests: dict[str, Validator] = {}
    responses: dict[str, Validator] = {}
    for entry in root.iterdir():
        name = entry.name
        if not name.endswith(".json"):
            continue
        schema = json.loads(entry.read_text(encoding="utf-8"))
        validator = fastjsonschema.compile(schema)
        stem = name[: -len(".json")]
        if stem.endswith("Response"):
            responses[stem[: -len("Response")]] = validator
        else:
            requests[stem] = validator
    return SchemaSet(version, requests, responses)
