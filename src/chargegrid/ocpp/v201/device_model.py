"""The 2.0.1 device model's JSON (component, variable, attribute) to :class:`Variable`.

Three messages describe it: NotifyReport (everything the station has, with mutability
and characteristics), GetVariables results (values) and SetVariables results (what a
set did). All become the same rows (``charger_variables``), keyed by component
(+instance, +EVSE, +connector), variable (+instance) and attribute type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chargegrid.services.charger_ports import Variable


def _component_key(component: Mapping[str, Any]) -> dict[str, Any]:
    evse = component.get("evse") or {}
    return {
        "component": component["name"],
        "component_instance": component.get("instance") or "",
        "evse_id": int(evse.get("id", 0)),
        "connector_id": int(evse.get("connectorId", 0)),
    }


def _variable_key(variable: Mapping[str, Any]) -> dict[str, Any]:
    return {"variable": variable["name"], "variable_instance": variable.get("instance") or ""}


def from_report(report_data: Iterable[Mapping[str, Any]]) -> list[Variable]:
    """NotifyReport ``reportData``: one Variable per attribute, with characteristics."""
    out: list[Variable] = []
    for item in report_data:
        key = {**_component_key(item["component"]), **_variable_key(item["variable"])}
        chars = item.get("variableCharacteristics") or {}
        traits: dict[str, Any] = {
            "data_type": chars.get("dataType"),
            "unit": chars.get("unit"),
            "min_limit": _text(chars.get("minLimit")),
            "max_limit": _text(chars.get("maxLimit")),
            "values_list": chars.get("valuesList"),
            "supports_monitoring": chars.get("supportsMonitoring"),
        }
        for attribute in item["variableAttribute"]:
            out.append(
                Variable(
                    **key,
                    attribute_type=attribute.get("type", "Actual"),
                    value=attribute.get("value"),
                    mutability=attribute.get("mutability", "ReadWrite"),
                    persistent=attribute.get("persistent"),
                    constant=attribute.get("constant"),
                    **traits,
                )
            )
    return out


def from_get_results(results: Iterable[Mapping[str, Any]]) -> list[Variable]:
    """GetVariables ``getVariableResult``: values (or why not) per attribute."""
    out = []
    for r in results:
        status = r["attributeStatus"]
        out.append(
            Variable(
                **_component_key(r["component"]),
                **_variable_key(r["variable"]),
                attribute_type=r.get("attributeType", "Actual"),
                value=r.get("attributeValue") if status == "Accepted" else None,
                status=None if status == "Accepted" else status,
            )
        )
    return out


# Values never kept in the device model we store (the charger's secrets).
SECRETS = frozenset({("SecurityCtrlr", "BasicAuthPassword")})


def from_set_results(
    requested: Iterable[Mapping[str, Any]], results: Iterable[Mapping[str, Any]]
) -> list[Variable]:
    """SetVariables: the value asked for where the station accepted it (or needs a
    reboot for it), the refusal's status where not."""
    asked = {_identity(r): None if _secret(r) else r.get("attributeValue") for r in requested}
    out = []
    for r in results:
        status = r["attributeStatus"]
        ok = status in ("Accepted", "RebootRequired")
        out.append(
            Variable(
                **_component_key(r["component"]),
                **_variable_key(r["variable"]),
                attribute_type=r.get("attributeType", "Actual"),
                value=asked.get(_identity(r)) if ok else None,
                status=None if status == "Accepted" else status,
            )
        )
    return out


def _secret(r: Mapping[str, Any]) -> bool:
    return (r["component"]["name"], r["variable"]["name"]) in SECRETS


def new_password(
    requested: Iterable[Mapping[str, Any]], results: Iterable[Mapping[str, Any]]
) -> str | None:
    """The BasicAuthPassword a SetVariables gave the station, if it took it (it uses it
    from its next connection on)."""
    taken = {
        _identity(r)
        for r in results
        if r["attributeStatus"] in ("Accepted", "RebootRequired") and _secret(r)
    }
    for r in requested:
        if _secret(r) and _identity(r) in taken:
            value = r.get("attributeValue")
            return str(value) if value is not None else None
    return None


def _identity(r: Mapping[str, Any]) -> tuple[Any, ...]:
    c, v = _component_key(r["component"]), _variable_key(r["variable"])
    return (*c.values(), *v.values(), r.get("attributeType", "Actual"))


def _text(value: Any) -> str | None:
    return None if value is None else f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True, slots=True)
class VariableRef:
    """A component/variable/attribute to get or set (the API's and boot sync's name)."""

    component: str
    variable: str
    attribute_type: str = "Actual"
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None

    def ocpp(self) -> dict[str, Any]:
        component: dict[str, Any] = {"name": self.component}
        if self.component_instance:
            component["instance"] = self.component_instance
        if self.evse_id:
            component["evse"] = {"id": self.evse_id}
            if self.connector_id:
                component["evse"]["connectorId"] = self.connector_id
        variable: dict[str, Any] = {"name": self.variable}
        if self.variable_instance:
            variable["instance"] = self.variable_instance
        return {"component": component, "variable": variable, "attributeType": self.attribute_type}

    def get(self) -> dict[str, Any]:
        return self.ocpp()

    def set(self, value: str) -> dict[str, Any]:
        return {**self.ocpp(), "attributeValue": value}


def phase_rotation_report(variables: Iterable[Variable]) -> str | None:
    """The stations's wiring in 1.6's ``ConnectorPhaseRotation`` words (``"0.RST,1.STR"``)
    from its reported ``PhaseRotation`` variables: ChargingStation's is entry 0, each
    EVSE's (or else its first connector's) is the EVSE's entry. None: it said nothing."""
    station: str | None = None
    evse: dict[int, str] = {}
    connector: dict[int, str] = {}
    for v in variables:
        if v.variable != "PhaseRotation" or v.attribute_type != "Actual" or not v.value:
            continue
        if v.component == "ChargingStation":
            station = v.value
        elif v.component == "EVSE" and v.evse_id:
            evse[v.evse_id] = v.value
        elif v.component == "Connector" and v.evse_id and v.connector_id <= 1:
            connector[v.evse_id] = v.value
    entries = {**connector, **evse}
    if station is None and not entries:
        return None
    parts = [f"0.{station}"] if station is not None else []
    parts += [f"{number}.{value}" for number, value in sorted(entries.items())]
    return ",".join(parts)
