"""A 2.0.1 station's transactions: TransactionEvent Started / Updated / Ended.

The cars, refusals and reboots are the shared ``Transactions``' (the same faults apply
with the same physical meaning); here the station's transactionId is its own (a uuid),
``seqNo`` counts 0, 1, 2... per transaction, an event created while the station cannot
send carries ``offline: true`` and waits in the outbox in order, and what 1.6 reports as
connector statuses becomes a connectorStatus (StatusNotification) plus a chargingState
(TransactionEvent Updated, ChargingStateChanged).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chargegrid.ocpp.connection import OcppConnection, Payload
from chargegrid.sim.outbox import CALL_TIMEOUT, Outgoing
from chargegrid.sim.state import ConnectorState, Transaction, ocpp_now
from chargegrid.sim.v201 import wire
from chargegrid.sim.v201.link import CONNECTOR_ID, Link201

log = logging.getLogger(__name__)

DEFAULT_TOKEN_TYPE = "ISO14443"


@dataclass
class StationTransaction(Transaction):
    token_type: str = DEFAULT_TOKEN_TYPE
    remote_start_id: int | None = None
    seq_no: int = 0  # of the next event

    def next_seq_no(self) -> int:
        n = self.seq_no
        self.seq_no += 1
        return n


class Transactions201(Link201):
    async def _authorize(self, connection: OcppConnection, id_tag: str) -> str:
        token = {"idToken": id_tag, "type": DEFAULT_TOKEN_TYPE}
        answer = await connection.call("Authorize", {"idToken": token}, CALL_TIMEOUT)
        return str(answer["idTokenInfo"]["status"])

    @property
    def online(self) -> bool:
        return self.connection is not None and self.registered and self.powered

    def _start_transaction(
        self,
        c: ConnectorState,
        id_tag: str,
        *,
        trigger: str = "Authorized",
        remote_start_id: int | None = None,
        token_type: str = DEFAULT_TOKEN_TYPE,
    ) -> Transaction:
        self.transactions_started += 1
        tx = StationTransaction(
            id_tag,
            datetime.now(UTC),
            int(c.register_wh),
            id=str(uuid.uuid4()),
            token_type=token_type,
            remote_start_id=remote_start_id,
        )
        tx.answered.set()  # the station's own id: known at once
        was = c.status
        c.tx = tx
        c.drawing_without_tx = False
        c.last_meter = self.clock.now()
        c.status = "Charging"
        if wire.connector_status(was) != "Occupied":
            self._queue_status(c.number, c.status)

        def started(result: Payload) -> None:
            info = result.get("idTokenInfo")
            if info is None or info["status"] == "Accepted":
                return
            tx.refused = True
            log.info("%s: start refused: %s", self.spec.ocpp_id, info)
            if c.tx is tx:
                self._start_refused(c)

        self._event(c, tx, "Started", trigger, "Transaction.Begin", started)
        return tx

    def _event(
        self,
        c: ConnectorState,
        tx: StationTransaction,
        kind: str,
        trigger: str,
        context: str | None,
        on_result: Callable[[Payload], None] | None = None,
        *,
        stopped_reason: str | None = None,
        charging_state: str | None = None,
    ) -> None:
        """Queue one TransactionEvent, its content fixed now (a late send or a replay
        after a reconnect repeats it as it was)."""
        payload: Payload = {
            "eventType": kind,
            "timestamp": ocpp_now(),
            "triggerReason": trigger,
            "seqNo": tx.next_seq_no(),
            "transactionInfo": {
                "transactionId": tx.id,
                "chargingState": charging_state or wire.charging_state(c.status, c.car is not None),
            },
            "evse": {"id": c.number, "connectorId": CONNECTOR_ID},
        }
        info = payload["transactionInfo"]
        if stopped_reason is not None:
            info["stoppedReason"] = stopped_reason
        if tx.remote_start_id is not None and kind == "Started":
            info["remoteStartId"] = tx.remote_start_id
        if kind == "Started" or trigger in ("Authorized", "StopAuthorized", "Deauthorized"):
            payload["idToken"] = {"idToken": tx.id_tag, "type": tx.token_type}
        if context is not None:
            payload["meterValue"] = [self._meter_value(c, context)]
        if not self.online:
            payload["offline"] = True
        self.enqueue(Outgoing("TransactionEvent", lambda: payload, on_result))

    def _meter_value(self, c: ConnectorState, context: str) -> dict[str, Any]:
        car = c.car
        values = (
            self._reading(c, car)
            if car is not None
            else [
                {
                    "value": f"{c.register_wh:.1f}",
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                }
            ]
        )
        return wire.meter_value(ocpp_now(), values, context)

    def _stop_transaction(self, c: ConnectorState, reason: str) -> None:
        tx = c.tx
        if tx is None:
            return
        c.tx = None
        assert isinstance(tx, StationTransaction)
        stopped, trigger = wire.stop(reason)
        self._event(
            c,
            tx,
            "Ended",
            trigger,
            "Transaction.End",
            stopped_reason=stopped,
            # The power path is open: the car is still there (EVConnected) unless it left.
            charging_state="EVConnected"
            if c.car is not None and reason != "EVDisconnected"
            else "Idle",
        )
        self.profiles.transaction_ended(c.number)
        if self._reset_when_idle and not any(x.tx for x in self.connectors.values()):
            self._spawn(self.reboot("SoftReset"))

    def _set_status(self, c: ConnectorState, status: str) -> None:
        was = c.status
        if was == status:
            return
        c.status = status
        if wire.connector_status(was) != wire.connector_status(status):
            self._queue_status(c.number, status)
        tx = c.tx
        plugged = c.car is not None
        if isinstance(tx, StationTransaction) and wire.charging_state(
            was, plugged
        ) != wire.charging_state(status, plugged):
            self._event(c, tx, "Updated", "ChargingStateChanged", None)

    def _meter_values(
        self,
        c: ConnectorState,
        context: str = "Sample.Periodic",
        trigger: str = "MeterValuePeriodic",
    ) -> None:
        """A reading: a TransactionEvent Updated in a transaction, else MeterValues (a car
        drawing after a refused start the station forgot, or a triggered reading)."""
        tx = c.tx
        if isinstance(tx, StationTransaction):
            self._event(c, tx, "Updated", trigger, context)
            return
        if c.car is None:
            return
        payload = {"evseId": c.number, "meterValue": [self._meter_value(c, context)]}
        self.enqueue(Outgoing("MeterValues", lambda: payload))
