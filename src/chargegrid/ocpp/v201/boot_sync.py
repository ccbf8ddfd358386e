"""After a 2.0.1 station boots: learn its device model, push our settings.

The 1.6 exchange (``v16.boot_sync``) with 2.0.1's words: GetVariables reads the
smart-charging capabilities (rate units, stack levels, phase switching) and sampling,
SetVariables sets ``SampledDataCtrlr.TxUpdatedInterval`` (the charger's
``meter_value_interval``) and the measurands the load manager needs, and a
GetBaseReport(FullInventory) asks for the whole device model, which arrives as
NotifyReport messages (``central_system``). ``config_sync`` records whether the station
took the interval, as for 1.6.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Mapping

from chargegrid.ocpp.connection import OcppConnection
from chargegrid.ocpp.errors import AnswerError
from chargegrid.ocpp.v16.boot_sync import SAMPLED_MEASURANDS
from chargegrid.ocpp.v201.device_model import VariableRef, from_get_results, from_set_results
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import ChargerRecord, ConfigWrite, Variable, VariablesWrite

log = logging.getLogger(__name__)

SYNC_TIMEOUT = 30.0
TX_INTERVAL = VariableRef("SampledDataCtrlr", "TxUpdatedInterval")
TX_MEASURANDS = VariableRef("SampledDataCtrlr", "TxUpdatedMeasurands")
RATE_UNIT = VariableRef("SmartChargingCtrlr", "RateUnit")
STACK_LEVEL = VariableRef("SmartChargingCtrlr", "ProfileStackLevel")
PHASE_SWITCHING = VariableRef("SmartChargingCtrlr", "ACPhaseSwitchingSupported")
READ = (TX_INTERVAL, TX_MEASURANDS, RATE_UNIT, STACK_LEVEL, PHASE_SWITCHING)
_request_ids = itertools.count(1)


def desired_settings(charger: ChargerRecord) -> dict[VariableRef, str]:
    settings = {TX_MEASURANDS: SAMPLED_MEASURANDS}
    if charger.meter_value_interval is not None:
        settings[TX_INTERVAL] = str(charger.meter_value_interval)
    return settings


def learnt_from(
    charger_id: uuid.UUID, values: Mapping[VariableRef, str | None], config_sync: str
) -> ConfigWrite:
    stack = (values.get(STACK_LEVEL) or "").strip()
    units = values.get(RATE_UNIT) or ""
    switching = (values.get(PHASE_SWITCHING) or "").strip().lower()
    return ConfigWrite(
        charger_id=charger_id,
        config_sync=config_sync,
        configuration={f"{r.component}.{r.variable}": v for r, v in values.items()} or None,
        max_stack_level=int(stack) if stack.isdigit() else None,
        charging_rate_units=[u.strip() for u in units.split(",") if u.strip()] or None,
        phase_switching={"true": True, "false": False}.get(switching),
    )


async def push_settings(
    connection: OcppConnection, charger: ChargerRecord, messages: ChargerMessages
) -> str:
    """After an operator changed a setting: the exchange without the full report."""
    return await sync_after_boot(connection, charger, messages, report=False)


async def sync_after_boot(
    connection: OcppConnection,
    charger: ChargerRecord,
    messages: ChargerMessages,
    *,
    report: bool = True,
) -> str:
    """Run the exchange; returns the resulting ``config_sync`` value."""
    # ``charger`` is as the boot (or the handshake, on a reconnect) read it a moment
    # ago; a setting changed since is pushed by the OCPP component's config follower.
    current = charger
    values: dict[VariableRef, str | None] = {}
    learnt: list[Variable] = []
    set_results: list[Variable] = []
    try:
        answer = await connection.call(
            "GetVariables", {"getVariableData": [r.get() for r in READ]}, SYNC_TIMEOUT
        )
        results = answer["getVariableResult"]
        learnt += from_get_results(results)
        for ref, result in zip(READ, results, strict=False):
            if result.get("attributeStatus") == "Accepted":
                values[ref] = result.get("attributeValue")
    except (TimeoutError, AnswerError) as exc:
        log.info("%s: GetVariables failed: %s", charger.ocpp_id, exc)

    outcome = "applied"
    wanted = {r: v for r, v in desired_settings(current).items() if values.get(r) != v}
    if wanted:
        data = [r.set(v) for r, v in wanted.items()]
        try:
            answer = await connection.call("SetVariables", {"setVariableData": data}, SYNC_TIMEOUT)
            results = answer["setVariableResult"]
            set_results = from_set_results(data, results)
            statuses = [r["attributeStatus"] for r in results]
        except (TimeoutError, AnswerError) as exc:
            log.info("%s: SetVariables failed: %s", charger.ocpp_id, exc)
            statuses = ["Rejected"] * len(wanted)
        for (ref, value), status in zip(wanted.items(), statuses, strict=False):
            if status in ("Accepted", "RebootRequired"):
                values[ref] = value
            elif ref == TX_INTERVAL:
                outcome = "rejected"  # the one setting an operator asked for
            else:
                log.info(
                    "%s: %s.%s=%s: %s", charger.ocpp_id, ref.component, ref.variable, value, status
                )

    await messages.variables(VariablesWrite(current.id, "get", learnt, messages.clock()))
    await messages.variables(VariablesWrite(current.id, "set", set_results, messages.clock()))
    await messages.configuration_learnt(learnt_from(current.id, values, outcome), charger.ocpp_id)
    if not report:
        return outcome
    try:
        await connection.call(
            "GetBaseReport",
            {"requestId": next(_request_ids), "reportBase": "FullInventory"},
            SYNC_TIMEOUT,
        )
    except (TimeoutError, AnswerError) as exc:
        log.info("%s: GetBaseReport failed: %s", charger.ocpp_id, exc)
    return outcome
