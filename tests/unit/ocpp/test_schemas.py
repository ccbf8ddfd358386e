"""Validation: the jsonschema-rs fast path never accepts what fastjsonschema refuses, so
the verdict on every payload is the one fastjsonschema alone gave (ocpp/schemas.py)."""

from __future__ import annotations

from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.hypothesis_budget import examples

from chargegrid.ocpp.errors import OcppCallError
from chargegrid.ocpp.schemas import schemas

SET = schemas("v16")

VALID: dict[str, dict[str, Any]] = {
    "StatusNotification": {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Charging",
        "timestamp": "2026-11-21T10:00:00Z",
        "info": "ok",
    },
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [
            {
                "timestamp": "2026-11-21T10:00:00.123+01:00",
                "sampledValue": [
                    {"value": "15.9", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                    {"value": "55", "measurand": "SoC", "unit": "Percent", "context": "Trigger"},
                ],
            }
        ],
    },
    "StartTransaction": {
        "connectorId": 1,
        "idTag": "TAG1",
        "meterStart": 0,
        "timestamp": "2026-11-21T10:00:00Z",
        "reservationId": 3,
    },
    "StopTransaction": {
        "transactionId": 7,
        "meterStop": 10,
        "timestamp": "2026-11-21T10:00:00Z",
        "reason": "EVDisconnected",
    },
    "BootNotification": {"chargePointVendor": "v", "chargePointModel": "m"},
}

ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.0,
    1.5,
    2**70,
    "",
    "x" * 21,
    "x" * 51,
    "é" * 20,
    "😀" * 20,
    "Charging",
    "charging",
    "2026-11-21T10:00:60Z",
    "2026-11-21T23:59:60Z",
    "2026-02-29T00:00:00Z",
    "2026-11-21T10:00:00",
    "2026-11-21 10:00:00Z",
    "2026-11-21t10:00:00z",
    "2026-11-21T10:00:00+0530",
    "2026-11-21T10:00:00+24:00",
    "2026-11-21T10:00:00.123456789Z",
    "\uff12\uff10\uff12\uff16-11-21T10:00:00Z",  # full-width digits
    [],
    [{}],
    {},
    {"value": "1"},
]


def fastjsonschema_accepts(action: str, payload: Any) -> bool:
    try:
        SET.requests[action](payload)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def chargegrid_accepts(action: str, payload: Any) -> bool:
    try:
        SET.check_request(action, payload)
    except OcppCallError:
        return False
    return True


def variants(payload: dict[str, Any]) -> list[dict[str, Any]]:
    out = [payload, {**payload, "unexpected": 1}]
    for key in payload:
        out.append({k: v for k, v in payload.items() if k != key})
        out += [{**payload, key: odd} for odd in ODD_VALUES]
    return out


@pytest.mark.parametrize("action", sorted(VALID))
def test_same_verdict_as_fastjsonschema_on_edge_cases(action: str) -> None:
    payloads = variants(VALID[action])
    if action == "MeterValues":
        sampled = VALID[action]["meterValue"][0]["sampledValue"][0]
        payloads += [
            {**VALID[action], "meterValue": [{"timestamp": odd, "sampledValue": [sampled]}]}
            for odd in ODD_VALUES
        ]
        payloads += [
            {
                **VALID[action],
                "meterValue": [{"timestamp": "2026-11-21T10:00:00Z", "sampledValue": [s]}],
            }
            for s in variants(sampled)
        ]
    verdicts = [
        (chargegrid_accepts(action, p), fastjsonschema_accepts(action, p)) for p in payloads
    ]
    assert all(ours == reference for ours, reference in verdicts)
    # Both kinds occur, so the comparison means something.
    assert {ours for ours, _ in verdicts} == {True, False}
    for p in payloads:
        if SET.fast_requests[action](p):
            assert fastjsonschema_accepts(action, p), p


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=60)
    | st.sampled_from(ODD_VALUES[12:24]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=6,
)


@settings(max_examples=examples(100, 300), deadline=None)
@given(
    action=st.sampled_from(sorted(VALID)),
    key=st.text(max_size=20) | st.sampled_from(["connectorId", "timestamp", "status", "idTag"]),
    value=json_values,
)
def test_the_fast_path_never_accepts_what_fastjsonschema_refuses(
    action: str, key: str, value: Any
) -> None:
    payload = {**VALID[action], key: value}
    if SET.fast_requests[action](payload):
        assert fastjsonschema_accepts(action, payload)
    assert chargegrid_accepts(action, payload) == fastjsonschema_accepts(action, payload)
