"""Fast payload validation: the JSON schemas the ``ocpp`` package ships, compiled once.

Every payload is first checked by jsonschema-rs (compiled Rust, ≈ 1.2 µs for the
bench's MeterValues frame), which only says valid or not. A payload it refuses goes
through fastjsonschema, which turns each schema into plain Python (≈ 9 µs) and names
the failed rule and field for the CallError; if fastjsonschema accepts it after all,
it is accepted. So the verdict is fastjsonschema's whenever the two disagree the
other way round, and tests/unit/ocpp/test_schemas.py checks that jsonschema-rs never
accepts what fastjsonschema refuses. Both are far below the ≈ 0.4 ms of the
``jsonschema`` validation the ``ocpp`` package runs, so validation stays on for every
frame in both directions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema_rs

from chargegrid.ocpp.errors import ErrorCode, OcppCallError

Validator = Callable[[Any], Any]
Check = Callable[[Any], bool]

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


# What a 2.0.1 charging station may send (OCPP 2.0.1 part 2, every block).
CHARGER_ACTIONS_201 = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)
CHARGER_ACTIONS = {"v16": CHARGER_ACTIONS_16, "v201": CHARGER_ACTIONS_201}


def central_system_actions(version: str = "v16") -> frozenset[str]:
    """What a central system may send to a charger: every action but the charger's own
    (DataTransfer goes both ways)."""
    return (schemas(version).actions() - CHARGER_ACTIONS[version]) | {"DataTransfer"}


# fastjsonschema names the failed keyword; OCPP 1.6J §4.2.3 names the error class.
_RULE_CODES: dict[str, ErrorCode] = {
    "required": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMATION_VIOLATION,
}


# 2.0.1 fixed 1.6's spellings (OCPP-J 2.0.1 §4.3); the meaning is the same. 1.6 has
# no words of its own for a broken RPC frame or an unknown message type.
_SPELLINGS = {
    "v16": {
        ErrorCode.RPC_FRAMEWORK_ERROR: "ProtocolError",
        ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "ProtocolError",
    },
    "v201": {
        ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION: "OccurrenceConstraintViolation",
        ErrorCode.FORMATION_VIOLATION: "FormatViolation",
    },
}


@dataclass(frozen=True)
class SchemaSet:
    """Compiled request and response validators of one OCPP version."""

    version: str
    requests: Mapping[str, Validator]
    responses: Mapping[str, Validator]
    # jsonschema-rs ``is_valid`` of the same schemas: the fast path for valid payloads.
    fast_requests: Mapping[str, Check] = field(default_factory=dict)
    fast_responses: Mapping[str, Check] = field(default_factory=dict)

    def actions(self) -> frozenset[str]:
        return frozenset(self.requests)

    def spell(self, code: ErrorCode | str) -> str:
        """A CallError code as this version writes it."""
        if isinstance(code, ErrorCode):
            return _SPELLINGS.get(self.version, {}).get(code, code.value)
        return str(code)

    def check_request(self, action: str, payload: Any) -> None:
        fast = self.fast_requests.get(action)
        if fast is None or not fast(payload):
            _run(self.requests, action, payload)

    def check_response(self, action: str, payload: Any) -> None:
        fast = self.fast_responses.get(action)
        if fast is None or not fast(payload):
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
    """Compile every schema of ``version`` (``v16`` or ``v201``; once per process,
    ≈ 0.1 s for 1.6, ≈ 0.5 s for 2.0.1). 1.6 names its files ``Action.json`` and
    ``ActionResponse.json``; 2.0.1 ``ActionRequest.json`` and ``ActionResponse.json``."""
    root = resources.files("ocpp") / version / "schemas"
    requests: dict[str, Validator] = {}
    responses: dict[str, Validator] = {}
    fast_requests: dict[str, Check] = {}
    fast_responses: dict[str, Check] = {}
    for entry in root.iterdir():
        name = entry.name
        if not name.endswith(".json"):
            continue
        schema = json.loads(entry.read_text(encoding="utf-8"))
        validator = fastjsonschema.compile(schema)
        fast = jsonschema_rs.validator_for(schema).is_valid
        stem = name[: -len(".json")]
        if stem.endswith("Response"):
            responses[stem[: -len("Response")]] = validator
            fast_responses[stem[: -len("Response")]] = fast
        else:
            stem = stem.removesuffix("Request")
            requests[stem] = validator
            fast_requests[stem] = fast
    return SchemaSet(version, requests, responses, fast_requests, fast_responses)
