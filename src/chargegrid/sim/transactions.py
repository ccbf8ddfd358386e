"""A simulated charger's transactions: a car arrives, is authorized, charges, leaves;
what a refused start does; what a reboot does to a running transaction.

A refused start (Authorize or StartTransaction answered other than ``Accepted``) is
handled as by a charger with ``StopTransactionOnInvalidId=true``: the contactor opens,
a started transaction is stopped (``DeAuthorized``), the connector shows ``Finishing``
and goes ``Available`` when the driver unplugs, shortly after. Fault
``charge_after_refused_start`` keeps the contactor closed instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from chargegrid.ocpp.connection import OcppConnection, Payload, TransportClosed
from chargegrid.ocpp.errors import AnswerError, OcppCallError
from chargegrid.sim.car import Car
from chargegrid.sim.draw_log import DrawSample
from chargegrid.sim.link import ChargerLink
from chargegrid.sim.outbox import CALL_TIMEOUT, Outgoing
from chargegrid.sim.state import ConnectorState, Transaction, ocpp_now

log = logging.getLogger(__name__)

REFUSED_CAR_LEAVES_S = 60.0  # simulated seconds: a driver whose start was refused unplugs
START_AFTER_BOOT_S = (1.0, 3.0)  # real seconds, fault ``start_before_profile``
GRACEFUL_STOP_S = 5.0  # real seconds a soft reset waits for its StopTransactions to leave


class Transactions(ChargerLink):
    def free_connector(self) -> int | None:
        free = [n for n, c in self.connectors.items() if c.car is None and c.operative]
        return self.rng.choice(free) if free else None

    def plug_in(self, number: int, car: Car, remote_id_tag: str | None = None) -> None:
        """A car arrives: Preparing, then Authorize (unless started remotely) and start."""
        c = self.connectors[number]
        c.car = car
        c.plugged_at = self.clock.now()
        c.leave_at = c.plugged_at + car.stay_s
        c.drawing_without_tx = False
        if self.faults.ignore_limits and self.rng.random() < self.faults.ignore_limits:
            c.ignore_until = c.plugged_at + self.faults.ignore_for_s
        self._set_status(c, "Preparing")
        self._spawn(self._authorize_and_start(c, remote_id_tag))

    async def _authorize_and_start(self, c: ConnectorState, remote_id_tag: str | None) -> None:
        car = c.car
        if car is None:
            return
        id_tag = remote_id_tag or car.id_tag
        connection = self.connection
        if remote_id_tag is None and connection is not None and self.registered:
            try:
                if await self._authorize(connection, id_tag) != "Accepted":
                    log.info("%s: %s not authorized", self.spec.ocpp_id, id_tag)
                    if c.car is car:
                        self._refused(c)
                    return
            except (TransportClosed, TimeoutError, AnswerError, OcppCallError):
                pass  # offline: start on local authority, as chargers do
        if c.car is not car or c.tx is not None or not self.powered:
            return
        self._start_transaction(c, id_tag)

    async def _authorize(self, connection: OcppConnection, id_tag: str) -> str:
        """Authorize ``id_tag``: the central system's verdict (``Accepted``, ...)."""
        answer = await connection.call("Authorize", {"idTag": id_tag}, CALL_TIMEOUT)
        return str(answer["idTagInfo"]["status"])

    def _start_transaction(self, c: ConnectorState, id_tag: str) -> Transaction:
        self.transactions_started += 1
        tx = Transaction(id_tag, datetime.now(UTC), int(c.register_wh))
        c.tx = tx
        c.drawing_without_tx = False
        c.last_meter = self.clock.now()
        timestamp = ocpp_now()

        def started(result: Payload) -> None:
            tx.id = result["transactionId"]
            tx.answered.set()
            if result["idTagInfo"]["status"] != "Accepted":
                tx.refused = True
                log.info("%s: start refused: %s", self.spec.ocpp_id, result["idTagInfo"])
                if c.tx is tx:
                    self._start_refused(c)

        self.enqueue(
            Outgoing(
                "StartTransaction",
                lambda: {
                    "connectorId": c.number,
                    "idTag": id_tag,
                    "meterStart": tx.meter_start,
                    "timestamp": timestamp,
                },
                started,
            )
        )
        self._set_status(c, "Charging")
        return tx

    def _start_refused(self, c: ConnectorState) -> None:
        if self.faults.charge_after_refused_start:
            # It forgets the transaction (no StopTransaction, TxProfiles refused, meter
            # values without a transactionId) but never opens the contactor.
            c.tx = None
            c.drawing_without_tx = True
            return
        self._stop_transaction(c, "DeAuthorized")
        self._refused(c)

    def _refused(self, c: ConnectorState) -> None:
        """No charging here: the driver is told so and unplugs."""
        self._set_status(c, "Finishing")
        leave_at = self.clock.now() + REFUSED_CAR_LEAVES_S
        c.leave_at = leave_at if c.leave_at is None else min(c.leave_at, leave_at)

    def _stop_transaction(self, c: ConnectorState, reason: str) -> None:
        tx = c.tx
        if tx is None:
            return
        c.tx = None
        meter_stop = int(c.register_wh)
        timestamp = ocpp_now()

        def build() -> Payload:
            return {
                "transactionId": tx.id if tx.id is not None else -1,
                "meterStop": meter_stop,
                "timestamp": timestamp,
                "reason": reason,
                "idTag": tx.id_tag,
            }

        self.enqueue(Outgoing("StopTransaction", build))
        self.profiles.transaction_ended(c.number)

    def leave(self, number: int, reason: str = "EVDisconnected") -> None:
        c = self.connectors[number]
        self._stop_transaction(c, reason)
        c.car = None
        c.limit = None
        c.leave_at = None
        c.drawing_without_tx = False
        self.draw_log.record(DrawSample(time.monotonic(), self.spec.ocpp_id, number, 0, 0, 0, None))
        self._set_status(c, "Available" if c.operative else "Unavailable")

    def _set_status(self, c: ConnectorState, status: str) -> None:
        if c.status != status:
            c.status = status
            self._queue_status(c.number, status)

    # -- across a reboot -------------------------------------------------------------

    async def _stop_gracefully(self) -> None:
        for c in self.connectors.values():
            if c.tx is not None:
                self._stop_transaction(c, "SoftReset")
                self._set_status(c, "Finishing")
        if self.outbox and self.connection is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.emptied.wait(), GRACEFUL_STOP_S)

    def _power_lost(self, reason: str) -> None:
        if not self.faults.keep_profiles_on_reboot:
            self.profiles.forget_tx_profiles()
        now = time.monotonic()
        for c in self.connectors.values():
            c.drawing_without_tx = False  # the contactor opens; the charger forgot it anyway
            c.limit = None
            if c.car is not None:
                c.car.drawing = 0.0
            self.draw_log.record(DrawSample(now, self.spec.ocpp_id, c.number, 0, 0, 0, None))

    def _power_restored(self, reason: str) -> None:
        for c in self.connectors.values():
            if c.tx is not None and not self.faults.resume_after_reboot:
                # 1.6 §5.13: sent after the BootNotification (the outbox waits for it).
                self._stop_transaction(c, reason)
            if c.car is not None and c.tx is None:
                self._set_status(c, "Preparing")  # a new start needs a new authorization
            elif c.car is None:
                self._set_status(c, "Available" if c.operative else "Unavailable")

    def _on_registered(self) -> None:
        if self.faults.start_before_profile:
            self._spawn(self._start_after_boot(self.rng.uniform(*START_AFTER_BOOT_S)))

    async def _start_after_boot(self, delay: float) -> None:
        await asyncio.sleep(delay)
        for number, c in self.connectors.items():
            if not c.operative or c.tx is not None or c.drawing_without_tx:
                continue
            if c.car is None:
                if self.new_car is not None:
                    self.plug_in(number, self.new_car())
            elif c.status != "Finishing":
                self._spawn(self._authorize_and_start(c, None))
