"""After a 1.6 charger boots: learn its configuration, push our settings.

Reads the whole configuration once (phase rotation and smart-charging capabilities
are kept on the charger's row), then sets ``MeterValueSampleInterval`` and the sampled
measurands we need (per-phase current for the load manager). ``config_sync`` records
whether the charger took the settings.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from chargegrid.ocpp.connection import OcppConnection
from chargegrid.ocpp.errors import AnswerError
from chargegrid.services.charger_messages import ChargerMessages
from chargegrid.services.charger_ports import ChargerRecord, ConfigWrite

log = logging.getLogger(__name__)

# Current.Import is reported per phase by 3-phase meters (phase L1..L3).
SAMPLED_MEASURANDS = "Energy.Active.Import.Register,Current.Import,Power.Active.Import,SoC"
SYNC_TIMEOUT = 30.0


def desired_settings(charger: ChargerRecord) -> dict[str, str]:
    settings = {"MeterValuesSampledData": SAMPLED_MEASURANDS}
    if charger.meter_value_interval is not None:
        settings["MeterValueSampleInterval"] = str(charger.meter_value_interval)
    return settings


def learnt_from(
    charger_id: uuid.UUID, config: Mapping[str, str | None], config_sync: str
) -> ConfigWrite:
    """What the configuration says about phases and smart-charging capabilities."""
    stack = (config.get("ChargeProfileMaxStackLevel") or "").strip()
    units = config.get("ChargingScheduleAllowedChargingRateUnit") or ""
    return ConfigWrite(
        charger_id=charger_id,
        config_sync=config_sync,
        configuration=dict(config) or None,
        connector_phase_rotation=config.get("ConnectorPhaseRotation") or None,
        max_stack_level=int(stack) if stack.isdigit() else None,
        charging_rate_units=[u.strip() for u in units.split(",") if u.strip()] or None,
    )


async def sync_after_boot(
    connection: OcppConnection, charger: ChargerRecord, messages: ChargerMessages
) -> str:
    """Run the exchange; returns the resulting ``config_sync`` value."""
    # ``charger`` is as the boot (or the handshake, on a reconnect) read it a moment
    # ago; a setting changed since is pushed by the OCPP component's config follower.
    current = charger
    config: dict[str, str | None] = {}
    try:
        answer = await connection.call("GetConfiguration", {}, SYNC_TIMEOUT)
        for entry in answer.get("configurationKey", []):
            config[entry["key"]] = entry.get("value")
    except (TimeoutError, AnswerError) as exc:
        log.info("%s: GetConfiguration failed: %s", charger.ocpp_id, exc)

    outcome = "applied"
    for key, value in desired_settings(current).items():
        if config.get(key) == value:
            continue
        try:
            result = await connection.call(
                "ChangeConfiguration", {"key": key, "value": value}, SYNC_TIMEOUT
            )
            status = result["status"]
        except (TimeoutError, AnswerError) as exc:
            log.info("%s: ChangeConfiguration %s failed: %s", charger.ocpp_id, key, exc)
            status = "Rejected"
        if status in ("Accepted", "RebootRequired"):
            config[key] = value
        elif key == "MeterValueSampleInterval":
            outcome = "rejected"  # the one setting an operator asked for
        else:
            log.info("%s: %s=%s answered %s", charger.ocpp_id, key, value, status)

    await messages.configuration_learnt(learnt_from(current.id, config, outcome), charger.ocpp_id)
    return outcome
