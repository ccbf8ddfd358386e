"""What a simulated charger answers to the central system's calls."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from chargegrid.ocpp.connection import Handler, Payload, Reply
from chargegrid.ocpp.errors import ErrorCode, OcppCallError
from chargegrid.sim.car import random_car
from chargegrid.sim.link import is_boot_trigger
from chargegrid.sim.state import ConnectorState
from chargegrid.sim.transactions import Transactions

TX_ANSWER_WAIT_S = 1.0
TRIGGERABLE = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues")


class CentralSystemCalls(Transactions):
    def _handlers(self) -> dict[str, Handler]:
        return self._with_faults(self._command_table())

    def _command_table(self) -> dict[str, Handler]:
        """The central system's calls this charger answers, by action."""
        return {
            "RemoteStartTransaction": self._remote_start,
            "RemoteStopTransaction": self._remote_stop,
            "Reset": self._reset,
            "UnlockConnector": self._unlock,
            "ChangeAvailability": self._change_availability,
            "TriggerMessage": self._trigger,
            "GetConfiguration": self._get_configuration,
            "ChangeConfiguration": self._change_configuration,
            "SetChargingProfile": self._set_profile,
            "ClearChargingProfile": self._clear_profile,
            "DataTransfer": self._data_transfer,
            "ClearCache": self._accepted,
        }

    def _with_faults(self, table: dict[str, Handler]) -> dict[str, Handler]:
        """Faults ``answer_delay_s`` and ``calls_before_boot="security_error"``."""
        if self.faults.answer_delay_s:
            table = {action: self._delayed(fn) for action, fn in table.items()}
        if self.faults.calls_before_boot == "security_error":
            table = {action: self._registered_only(action, fn) for action, fn in table.items()}
        return table

    def _delayed(self, fn: Handler) -> Handler:
        async def slow(payload: Payload) -> Payload | Reply:
            await asyncio.sleep(self.faults.answer_delay_s)
            return await fn(payload)

        return slow

    def _registered_only(self, action: str, fn: Handler) -> Handler:
        async def gated(payload: Payload) -> Payload | Reply:
            if not self.registered and not is_boot_trigger(action, payload):
                raise OcppCallError(ErrorCode.SECURITY_ERROR, "not registered yet")
            return await fn(payload)

        return gated

    async def _accepted(self, p: Payload) -> Payload:
        return {"status": "Accepted"}

    async def _remote_start(self, p: Payload) -> Payload:
        number = p.get("connectorId") or self.free_connector()
        if number is None or number not in self.connectors:
            return {"status": "Rejected"}
        c = self.connectors[number]
        if c.tx is not None or c.drawing_without_tx or not c.operative:
            return {"status": "Rejected"}
        if c.car is None:
            car = random_car(self.rng, f"remote-{number}", p["idTag"], 3600.0)
            c.car = car
            c.plugged_at = self.clock.now()
            c.leave_at = c.plugged_at + car.stay_s
        self._start_transaction(c, p["idTag"])
        if "chargingProfile" in p:
            # The TxProfile of the transaction being started (it has no id yet).
            self.profiles.install(
                number, p["chargingProfile"], None, datetime.now(UTC), starting=True
            )
        return {"status": "Accepted"}

    async def _remote_stop(self, p: Payload) -> Payload:
        for c in self.connectors.values():
            if c.tx is not None and c.tx.id == p["transactionId"]:
                self._stop_transaction(c, "Remote")
                self._set_status(c, "Finishing")
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    async def _reset(self, p: Payload) -> Reply:
        reason = "HardReset" if p["type"] == "Hard" else "SoftReset"

        async def go_down() -> None:
            self._spawn(self.reboot(reason))  # outlives the connection it closes

        return Reply({"status": "Accepted"}, go_down)

    async def _unlock(self, p: Payload) -> Payload:
        c = self.connectors.get(p["connectorId"])
        if c is None:
            return {"status": "NotSupported"}
        if c.car is not None:
            self.leave(c.number, "UnlockCommand")
        return {"status": "Unlocked"}

    async def _change_availability(self, p: Payload) -> Payload:
        number, operative = p["connectorId"], p["type"] == "Operative"
        targets = list(self.connectors.values()) if number == 0 else []
        if number:
            if number not in self.connectors:
                return {"status": "Rejected"}
            targets = [self.connectors[number]]
        scheduled = False
        for c in targets:
            c.operative = operative
            if c.tx is not None and not operative:
                scheduled = True  # takes effect when the session ends (§5.2)
            elif c.car is None:
                self._set_status(c, "Available" if operative else "Unavailable")
        return {"status": "Scheduled" if scheduled else "Accepted"}

    async def _trigger(self, p: Payload) -> Payload | Reply:
        message = p["requestedMessage"]
        number = p.get("connectorId")
        connection = self.connection
        if connection is None:
            return {"status": "Rejected"}
        if message not in TRIGGERABLE:
            return {"status": "NotImplemented"}
        if message == "BootNotification":
            return Reply({"status": "Accepted"}, self.boot_triggered(connection))

        async def send() -> None:
            if message == "Heartbeat":
                await connection.call("Heartbeat", {}, 30.0)
            elif message == "StatusNotification":
                for n in [number] if number is not None else [0, *self.connectors]:
                    await self._status(n)
            else:
                for c in self.connectors.values():
                    if number in (None, c.number) and c.car is not None:
                        self._meter_values(c)

        return Reply({"status": "Accepted"}, send)

    async def _get_configuration(self, p: Payload) -> Payload:
        keys = p.get("key")
        wanted = keys if keys else list(self.config)
        known = [k for k in wanted if k in self.config]
        return {
            "configurationKey": [
                {"key": k, "readonly": k in self.readonly, "value": self.config[k]} for k in known
            ],
            "unknownKey": [k for k in wanted if k not in self.config],
        }

    async def _change_configuration(self, p: Payload) -> Payload:
        key, value = p["key"], p["value"]
        if key not in self.config:
            return {"status": "NotSupported"}
        if key in self.readonly:
            return {"status": "Rejected"}
        if key in ("MeterValueSampleInterval", "HeartbeatInterval") and not value.isdigit():
            return {"status": "Rejected"}
        # MeterValuesSampledData is stored as asked, but the meter keeps reporting what
        # it can measure (``Faults.meter_report``), as field chargers do.
        self.config[key] = value
        return {"status": "Accepted"}

    async def _set_profile(self, p: Payload) -> Payload:
        if self.faults.refuse_profiles and self.rng.random() < self.faults.refuse_profiles:
            return {"status": "Rejected"}
        late = self.faults.live_profile_delay_after_reconnect_s
        if late and self.connected_count > 1 and p["csChargingProfiles"]["stackLevel"] > 0:
            await asyncio.sleep(late)
        number = p["connectorId"]
        tx = self.connectors[number].tx if number in self.connectors else None
        if tx is not None and tx.id is None:
            # The StartTransaction answer came in just before this call, but the task
            # that books it has not run yet: a charger reads its socket in order.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tx.answered.wait(), TX_ANSWER_WAIT_S)
        tx_id = tx.id if tx is not None else None
        status = self.profiles.install(number, p["csChargingProfiles"], tx_id, datetime.now(UTC))
        return {"status": status}

    async def _clear_profile(self, p: Payload) -> Payload:
        status = self.profiles.clear(
            p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"), p.get("stackLevel")
        )
        return {"status": status}

    async def _data_transfer(self, p: Payload) -> Payload:
        return {"status": "UnknownVendorId"}

    def _meter_values(self, c: ConnectorState) -> None:
        raise NotImplementedError  # the physics (charger.py) measures
