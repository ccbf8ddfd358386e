"""A charger of a few lines of OCPP 1.6 for the browser tests: boots, starts a
transaction, sends readings, and agrees to whatever the server asks meanwhile."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import ClientConnection


class TinyCharger:
    """Just enough OCPP 1.6 to boot, start a transaction and report current."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.n = 0

    def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        mine = f"t{self.n}"
        self.ws.send(json.dumps([2, mine, action, payload]))
        while True:
            message = json.loads(self.ws.recv(timeout=20))
            if message[0] == 2:
                self.answer(message)
            elif message[1] == mine:
                assert message[0] == 3, message
                result: dict[str, Any] = message[2]
                return result

    def answer(self, message: list[Any]) -> None:
        """Agrees to the server's own calls (limits, configuration), so it goes on."""
        reply: dict[str, Any] = {"status": "Accepted"}
        if message[2] == "GetConfiguration":
            reply = {"configurationKey": []}
        self.ws.send(json.dumps([3, message[1], reply]))
