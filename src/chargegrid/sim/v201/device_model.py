"""A small, real OCPP 2.0.1 device model: components with variables, their attributes
(Actual and, where they exist, Target / MinSet / MaxSet), mutability, data types and
characteristics; GetVariables / SetVariables results and NotifyReport report data.

Values are strings, as on the wire. A variable may read its Actual value live from the
station (``read``: e.g. an EVSE's AvailabilityState); a WriteOnly one is never reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
ATTRIBUTES = ("Actual", "Target", "MinSet", "MaxSet")


def _valid(data_type: str, value: str, values_list: str | None) -> bool:
    allowed = None if values_list is None else set(values_list.split(","))
    try:
        if data_type == "integer":
            return int(value) >= 0
        if data_type == "decimal":
            return float(value) >= 0
    except ValueError:
        return False
    if data_type == "boolean":
        return value in ("true", "false")
    if data_type == "OptionList":
        return allowed is None or value in allowed
    if data_type in ("MemberList", "SequenceList"):
        items = [v.strip() for v in value.split(",") if v.strip()]
        return allowed is None or all(v in allowed for v in items)
    return len(value) <= 1000


@dataclass
class Variable:
    component: str
    name: str
    value: str = ""  # the Actual attribute
    data_type: str = "string"
    mutability: str = "ReadOnly"
    evse: int | None = None
    connector: int | None = None
    instance: str | None = None
    unit: str | None = None
    values_list: str | None = None
    reboot_required: bool = False  # a new value takes effect after a reboot
    read: Callable[[], str] | None = field(default=None, repr=False)  # live Actual value
    # Other attributes (Target, MinSet, MaxSet) with their values: ReadOnly.
    others: dict[str, str] = field(default_factory=dict)

    def actual(self) -> str:
        return self.read() if self.read is not None else self.value

    def attribute(self, kind: str) -> str | None:
        return self.actual() if kind == "Actual" else self.others.get(kind)

    def component_json(self) -> Json:
        out: Json = {"name": self.component}
        if self.evse is not None:
            evse: Json = {"id": self.evse}
            if self.connector is not None:
                evse["connectorId"] = self.connector
            out["evse"] = evse
        return out

    def variable_json(self) -> Json:
        out: Json = {"name": self.name}
        if self.instance is not None:
            out["instance"] = self.instance
        return out

    def report_item(self) -> Json:
        attributes = []
        for kind in ATTRIBUTES:
            value = self.attribute(kind)
            if value is None:
                continue
            mutability = self.mutability if kind == "Actual" else "ReadOnly"
            attribute: Json = {"type": kind, "mutability": mutability}
            if mutability != "WriteOnly":
                attribute["value"] = value
            attributes.append(attribute)
        characteristics: Json = {"dataType": self.data_type, "supportsMonitoring": False}
        if self.unit is not None:
            characteristics["unit"] = self.unit
        if self.values_list is not None:
            characteristics["valuesList"] = self.values_list
        return {
            "component": self.component_json(),
            "variable": self.variable_json(),
            "variableAttribute": attributes,
            "variableCharacteristics": characteristics,
        }


def _same_component(v: Variable, component: Json) -> bool:
    evse = component.get("evse")
    evse_id = evse["id"] if evse else None
    connector = evse.get("connectorId") if evse else None
    return (
        v.component == component["name"]
        and v.evse == evse_id
        and v.connector == connector
        and component.get("instance") is None
    )


@dataclass
class DeviceModel:
    variables: list[Variable]
    # Called with a variable after SetVariables changed it.
    on_change: Callable[[Variable], None] | None = None

    def find(
        self,
        component: str,
        name: str,
        evse: int | None = None,
        connector: int | None = None,
        instance: str | None = None,
    ) -> Variable:
        for v in self.variables:
            if (v.component, v.name, v.evse, v.connector, v.instance) == (
                component,
                name,
                evse,
                connector,
                instance,
            ):
                return v
        raise KeyError(f"{component}.{name}")

    def value(self, component: str, name: str, **where: Any) -> str:
        return self.find(component, name, **where).actual()

    def _lookup(self, component: Json, variable: Json) -> tuple[str, Variable | None]:
        """(status, variable): UnknownComponent / UnknownVariable / Accepted."""
        of_component = [v for v in self.variables if _same_component(v, component)]
        if not of_component:
            return "UnknownComponent", None
        for v in of_component:
            if v.name == variable["name"] and v.instance == variable.get("instance"):
                return "Accepted", v
        return "UnknownVariable", None

    def get(self, request: Json) -> Json:
        """One getVariableResult for one getVariableData item."""
        kind = request.get("attributeType", "Actual")
        result: Json = {
            "attributeType": kind,
            "component": request["component"],
            "variable": request["variable"],
        }
        status, v = self._lookup(request["component"], request["variable"])
        if v is not None:
            value = v.attribute(kind)
            if value is None:
                status = "NotSupportedAttributeType"
            elif kind == "Actual" and v.mutability == "WriteOnly":
                status = "Rejected"
            else:
                result["attributeValue"] = value
        result["attributeStatus"] = status
        return result

    def set(self, request: Json) -> Json:
        """One setVariableResult for one setVariableData item (the value is stored)."""
        kind = request.get("attributeType", "Actual")
        result: Json = {
            "attributeType": kind,
            "component": request["component"],
            "variable": request["variable"],
        }
        status, v = self._lookup(request["component"], request["variable"])
        if v is not None:
            value = str(request["attributeValue"])
            if v.attribute(kind) is None:
                status = "NotSupportedAttributeType"
            elif kind != "Actual" or v.mutability == "ReadOnly" or v.read is not None:
                status = "Rejected"
            elif not _valid(v.data_type, value, v.values_list):
                status = "Rejected"
                result["attributeStatusInfo"] = {"reasonCode": "InvalidValue"}
            else:
                v.value = value
                status = "RebootRequired" if v.reboot_required else "Accepted"
                if self.on_change is not None:
                    self.on_change(v)
        result["attributeStatus"] = status
        return result

    def base_report(self, report_base: str) -> list[Variable]:
        """ConfigurationInventory: what can be set; FullInventory: everything;
        SummaryInventory: availability and problems."""
        if report_base == "ConfigurationInventory":
            return [v for v in self.variables if v.mutability != "ReadOnly"]
        if report_base == "SummaryInventory":
            return [v for v in self.variables if v.name in ("AvailabilityState", "Problem")]
        return list(self.variables)

    def report(
        self, component_variables: Iterable[Json], criteria: Iterable[str]
    ) -> list[Variable]:
        """GetReport: the variables named (a component alone names all of its own), of
        components that have every criterion (Active, Available, Enabled, Problem) true."""
        chosen = list(self.variables)
        wanted = list(component_variables)
        if wanted:
            chosen = [
                v
                for v in chosen
                if any(
                    _same_component(v, cv["component"])
                    and (
                        "variable" not in cv
                        or (
                            v.name == cv["variable"]["name"]
                            and cv["variable"].get("instance") in (None, v.instance)
                        )
                    )
                    for cv in wanted
                )
            ]
        for criterion in criteria:
            having = {
                (v.component, v.evse, v.connector)
                for v in self.variables
                if v.name == criterion and v.actual() == "true"
            }
            chosen = [v for v in chosen if (v.component, v.evse, v.connector) in having]
        return chosen


def report_messages(
    request_id: int, variables: list[Variable], per_message: int, generated_at: str
) -> list[Json]:
    """NotifyReport payloads: ``per_message`` items each, seqNo from 0, tbc on all but
    the last."""
    chunks = [variables[i : i + per_message] for i in range(0, len(variables), per_message)]
    return [
        {
            "requestId": request_id,
            "generatedAt": generated_at,
            "seqNo": n,
            "tbc": n < len(chunks) - 1,
            "reportData": [v.report_item() for v in chunk],
        }
        for n, chunk in enumerate(chunks)
    ]
