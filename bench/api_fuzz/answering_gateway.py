"""Every charger online for the fuzzer's actions, without sockets.

Offline, every ``POST /chargers/{id}/actions/...`` stops at 409 before any of the work
behind it. ``AnsweringGateway`` is the real command gateway (the charger's version
writes the CALL, split where the charger caps its lists) with, in place of each
charger's connection, a line that checks the CALL against that version's schema as
the real connection does (a broken one is the caller's 422, nothing sent) and answers
it with a valid CALLRESULT. Half the chargers speak 1.6 and half 2.0.1, by their id.

The test client runs each request on an event loop of its own, so no connection (a
reader task, futures) can live across requests; this line keeps no loop state.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from chargegrid.ocpp.connection import OcppConnection, Payload
from chargegrid.ocpp.errors import CallErrorReceived
from chargegrid.ocpp.gateway import CommandGateway
from chargegrid.ocpp.schemas import SchemaSet, schemas
from chargegrid.ocpp.versions import VERSIONS, ProtocolVersion


def _results(key: str, items_key: str) -> Callable[[Payload], Payload]:
    """A 2.0.1 Get/SetVariables answer: every requested variable Accepted."""

    def answer(payload: Payload) -> Payload:
        return {
            key: [
                {
                    "attributeStatus": "Accepted",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in payload[items_key]
            ]
        }

    return answer


# Answers that are neither {"status": "Accepted"} nor empty, per version and action.
ANSWERS: dict[str, dict[str, Callable[[Payload], Payload]]] = {
    "v16": {
        "GetLocalListVersion": lambda _: {"listVersion": 0},
        "UnlockConnector": lambda _: {"status": "Unlocked"},
    },
    "v201": {
        "GetLocalListVersion": lambda _: {"versionNumber": 0},
        "UnlockConnector": lambda _: {"status": "Unlocked"},
        "GetTransactionStatus": lambda _: {"messagesInQueue": False},
        "GetVariables": _results("getVariableResult", "getVariableData"),
        "SetVariables": _results("setVariableResult", "setVariableData"),
    },
}


class AnsweringLine:
    """Stands in for one charger's ``OcppConnection`` in the gateway."""

    def __init__(self, version: ProtocolVersion) -> None:
        self.schemas: SchemaSet = schemas(version.schema_key)

    async def call(self, action: str, payload: Payload, timeout: float = 30.0) -> Payload:  # noqa: ASYNC109
        self.schemas.check_request(action, payload)  # OcppCallError -> the caller's 422
        special = ANSWERS[self.schemas.version].get(action)
        candidates = [special(payload)] if special is not None else [{"status": "Accepted"}, {}]
        for answer in candidates:
            try:
                self.schemas.check_response(action, answer)
            except Exception:
                continue
            return answer
        # What a charger that has no such message answers.
        raise CallErrorReceived(action, "NotImplemented", "not in this fake", {})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


class AnsweringGateway(CommandGateway):
    def connection(self, ocpp_id: str) -> OcppConnection:
        if not self.is_online(ocpp_id):
            version = VERSIONS[zlib.crc32(ocpp_id.encode()) % len(VERSIONS)]
            line: Any = AnsweringLine(version)
            self.attach(ocpp_id, line, ready=True, encoder=version.encode)
        return super().connection(ocpp_id)
