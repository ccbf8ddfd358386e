"""A 2.0.1 station's device-model calls: GetVariables, SetVariables, GetBaseReport and
GetReport (then NotifyReport messages, DeviceDataCtrlr.ItemsPerMessage[GetReport] items
each)."""

from __future__ import annotations

from chargegrid.ocpp.connection import Handler, OcppConnection, Payload, Reply
from chargegrid.sim.outbox import CALL_TIMEOUT
from chargegrid.sim.state import ocpp_now
from chargegrid.sim.v201.device_model import Variable, report_messages
from chargegrid.sim.v201.smart_charging import SmartCharging201


class Reports201(SmartCharging201):
    def _reports_table(self) -> dict[str, Handler]:
        return {
            "GetVariables": self._get_variables,
            "SetVariables": self._set_variables,
            "GetBaseReport": self._get_base_report,
            "GetReport": self._get_report,
        }

    def _items_per_message(self, instance: str) -> int:
        return int(self.variable("DeviceDataCtrlr", "ItemsPerMessage", instance=instance))

    async def _get_variables(self, p: Payload) -> Payload:
        items = p["getVariableData"]
        if len(items) > self._items_per_message("GetVariables"):
            return {"getVariableResult": [self._too_many(item) for item in items]}
        return {"getVariableResult": [self.device.get(item) for item in items]}

    async def _set_variables(self, p: Payload) -> Payload:
        items = p["setVariableData"]
        if len(items) > self._items_per_message("SetVariables"):
            return {"setVariableResult": [self._too_many(item) for item in items]}
        return {"setVariableResult": [self.device.set(item) for item in items]}

    @staticmethod
    def _too_many(item: Payload) -> Payload:
        return {
            "attributeType": item.get("attributeType", "Actual"),
            "attributeStatus": "Rejected",
            "attributeStatusInfo": {"reasonCode": "TooManyElements"},
            "component": item["component"],
            "variable": item["variable"],
        }

    async def _get_base_report(self, p: Payload) -> Payload | Reply:
        variables = self.device.base_report(p["reportBase"])
        return self._report_reply(p["requestId"], variables)

    async def _get_report(self, p: Payload) -> Payload | Reply:
        variables = self.device.report(
            p.get("componentVariable") or [], p.get("componentCriteria") or []
        )
        return self._report_reply(p["requestId"], variables)

    def _report_reply(self, request_id: int, variables: list[Variable]) -> Payload | Reply:
        connection = self.connection
        if not variables:
            return {"status": "EmptyResultSet"}
        if connection is None:
            return {"status": "Rejected"}
        messages = report_messages(
            request_id, variables, self._items_per_message("GetReport"), ocpp_now()
        )
        return Reply({"status": "Accepted"}, lambda: self._notify(connection, messages))

    @staticmethod
    async def _notify(connection: OcppConnection, messages: list[Payload]) -> None:
        for message in messages:
            await connection.call("NotifyReport", message, CALL_TIMEOUT)
