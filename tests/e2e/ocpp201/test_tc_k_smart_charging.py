"""OCPP 2.0.1 Part 6 CSMS conformance, block K (Smart charging).

Not applicable here: TC_K_55_CSMS, TC_K_58_CSMS, TC_K_59_CSMS (renegotiating an ISO 15118
schedule is the load manager's control loop, which the ``csms`` fixture does not run;
the EV's needs and schedule reaching the CSMS are TC_K_53/TC_K_57).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v201 import call
from sqlalchemy import select

from chargegrid import events as ev
from chargegrid.ocpp.charging_profiles import ChargingProfile, SchedulePeriod
from chargegrid.services.charger_commands import (
    ClearChargingProfile,
    Native,
    SetChargingProfile,
)
from chargegrid.store.charger_store import sessions
from chargegrid.store.ocpp_tables import charger_notices
from tests.e2e.conftest import Csms, eventually
from tests.e2e.ocpp201.station import Station, Transaction, booted, now_iso

pytestmark = pytest.mark.e2e

TAG = "TAG-K"


@pytest.fixture
async def station(csms: Csms) -> Any:
    await csms.add_id_tag(TAG)
    async with booted(csms) as station:
        yield station


def profile(
    purpose: Any, *, id: int = 1, stack_level: int = 0, limit: float = 16.0, **kw: Any
) -> ChargingProfile:
    return ChargingProfile(
        id=id,
        stack_level=stack_level,
        purpose=purpose,
        periods=(SchedulePeriod(0, limit), SchedulePeriod(3600, limit / 2)),
        kind=kw.pop("kind", "Absolute"),
        start_schedule=kw.pop("start_schedule", datetime.now(UTC).replace(microsecond=0)),
        **kw,
    )


async def _set(
    csms: Csms, station: Station, evse: int, p: ChargingProfile, answer: str = "Accepted"
) -> dict[str, Any]:
    station.profile_answer = answer
    told = await station.command(csms, SetChargingProfile(evse, p))
    assert told == {"status": answer}
    sent = station.received.of("SetChargingProfile")[-1]
    assert sent["evse_id"] == evse
    got: dict[str, Any] = sent["charging_profile"]
    (schedule,) = got["charging_schedule"]
    assert schedule["id"] == p.id and schedule["charging_rate_unit"] == "A"
    assert [s["limit"] for s in schedule["charging_schedule_period"]] == [
        period.limit for period in p.periods
    ]
    assert (got["id"], got["stack_level"]) == (p.id, p.stack_level)
    return got


async def test_tc_k_01_set_tx_default_profile_specific_evse(csms: Csms, station: Station) -> None:
    sent = await _set(csms, station, 1, profile("TxDefaultProfile"))
    assert sent["charging_profile_purpose"] == "TxDefaultProfile"
    assert "transaction_id" not in sent


async def test_tc_k_02_set_tx_profile_without_transaction(csms: Csms, station: Station) -> None:
    p = profile("TxProfile", transaction_id="no-such-transaction", kind="Relative")
    sent = await _set(csms, station, 1, p, answer="Rejected")
    assert sent["transaction_id"] == "no-such-transaction"


async def test_tc_k_03_set_charging_station_max_profile(csms: Csms, station: Station) -> None:
    sent = await _set(csms, station, 0, profile("ChargePointMaxProfile", limit=32.0))
    assert sent["charging_profile_purpose"] == "ChargingStationMaxProfile"


async def test_tc_k_04_replace_charging_profile_by_id(csms: Csms, station: Station) -> None:
    await _set(csms, station, 1, profile("TxDefaultProfile", id=7, limit=16.0))
    await _set(csms, station, 1, profile("TxDefaultProfile", id=7, limit=10.0))
    first, second = station.received.of("SetChargingProfile")
    assert first["charging_profile"]["id"] == second["charging_profile"]["id"] == 7


async def test_tc_k_05_clear_charging_profile_by_id(csms: Csms, station: Station) -> None:
    await _set(csms, station, 1, profile("TxDefaultProfile", id=5))
    told = await station.command(csms, ClearChargingProfile(profile_id=5))
    assert told == {"status": "Accepted"}
    assert station.received.of("ClearChargingProfile") == [{"charging_profile_id": 5}]


async def test_tc_k_06_clear_charging_profile_by_stack_level_and_purpose(
    csms: Csms, station: Station
) -> None:
    told = await station.command(
        csms, ClearChargingProfile(evse_number=1, purpose="TxDefaultProfile", stack_level=0)
    )
    assert told == {"status": "Accepted"}
    (sent,) = station.received.of("ClearChargingProfile")
    assert sent == {
        "charging_profile_criteria": {
            "evse_id": 1,
            "charging_profile_purpose": "TxDefaultProfile",
            "stack_level": 0,
        }
    }


async def test_tc_k_08_clear_charging_profile_without_previous(
    csms: Csms, station: Station
) -> None:
    station.answers["ClearChargingProfile"] = {"status": "Unknown"}
    told = await station.command(csms, ClearChargingProfile(profile_id=999))
    assert told == {"status": "Unknown"}


async def test_tc_k_10_set_tx_default_profile_all_evse(csms: Csms, station: Station) -> None:
    sent = await _set(csms, station, 0, profile("TxDefaultProfile"))
    assert sent["charging_profile_purpose"] == "TxDefaultProfile"


async def test_tc_k_15_set_charging_profile_not_supported(csms: Csms, station: Station) -> None:
    await _set(csms, station, 1, profile("TxDefaultProfile"), answer="Rejected")
    assert csms.central.gateway.is_online("CS1")


async def test_tc_k_19_set_recurring_charging_profile(csms: Csms, station: Station) -> None:
    p = profile("TxDefaultProfile", kind="Recurring", recurrency="Daily")
    sent = await _set(csms, station, 1, p)
    assert (sent["charging_profile_kind"], sent["recurrency_kind"]) == ("Recurring", "Daily")
    assert sent["charging_schedule"][0]["start_schedule"]


async def test_tc_k_37_remote_start_with_charging_profile(csms: Csms, station: Station) -> None:
    tx_profile = {
        "id": 37,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": [
            {
                "id": 37,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 12.0}],
            }
        ],
    }
    told = await station.command(
        csms,
        Native(
            "RequestStartTransaction",
            {
                "idToken": {"idToken": TAG, "type": "Central"},
                "remoteStartId": 37,
                "evseId": 1,
                "chargingProfile": tx_profile,
            },
        ),
    )
    assert told == {"status": "Accepted"}
    (sent,) = station.received.of("RequestStartTransaction")
    assert sent["charging_profile"]["charging_profile_purpose"] == "TxProfile"
    tx = Transaction(station)
    answer = await tx.start(TAG, remote_start_id=37, trigger_reason="RemoteStart")
    assert answer.id_token_info["status"] == "Accepted"


async def test_tc_k_60_set_tx_profile_with_transaction(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    sent = await _set(csms, station, 1, profile("TxProfile", transaction_id=tx.id, limit=10.0))
    assert sent["transaction_id"] == tx.id


async def test_tc_k_70_set_multiple_profiles(csms: Csms, station: Station) -> None:
    await _set(csms, station, 0, profile("ChargePointMaxProfile", id=1, limit=32.0))
    await _set(csms, station, 1, profile("TxDefaultProfile", id=2, limit=16.0))
    await _set(csms, station, 1, profile("TxDefaultProfile", id=3, stack_level=1, limit=8.0))
    assert [p["charging_profile"]["id"] for p in station.received.of("SetChargingProfile")] == [
        1,
        2,
        3,
    ]


# -- GetChargingProfiles -> ReportChargingProfiles ----------------------------------


async def _notices(csms: Csms, action: str, count: int = 1) -> list[Any]:
    query = select(charger_notices).where(charger_notices.c.action == action)

    async def stored() -> bool:
        return len(await csms.rows(query)) >= count

    await eventually(stored, what=f"{count} {action} stored")
    return await csms.rows(query.order_by(charger_notices.c.id))


async def _get_profiles(
    csms: Csms, station: Station, criterion: Mapping[str, Any], evse: int | None, request_id: int
) -> None:
    payload: dict[str, Any] = {"requestId": request_id, "chargingProfile": dict(criterion)}
    if evse is not None:
        payload["evseId"] = evse
    told = await station.command(csms, Native("GetChargingProfiles", payload))
    assert told == {"status": "Accepted"}
    (sent,) = station.received.of("GetChargingProfiles")
    assert sent["request_id"] == request_id and sent.get("evse_id") == evse
    reported = {
        "id": 9,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": [
            {
                "id": 9,
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
            }
        ],
    }
    await station.call(
        call.ReportChargingProfiles(
            request_id=request_id,
            charging_limit_source="CSO",
            evse_id=evse or 0,
            charging_profile=[reported],
            tbc=False,
        )
    )
    (row,) = await _notices(csms, "ReportChargingProfiles")
    assert row.payload["requestId"] == request_id
    assert row.payload["chargingProfile"][0]["id"] == 9


async def test_tc_k_29_get_charging_profiles_evse_0(csms: Csms, station: Station) -> None:
    await _get_profiles(csms, station, {"chargingLimitSource": ["CSO"]}, 0, 29)


async def test_tc_k_30_get_charging_profiles_evse_1(csms: Csms, station: Station) -> None:
    await _get_profiles(csms, station, {"chargingLimitSource": ["CSO"]}, 1, 30)


async def test_tc_k_31_get_charging_profiles_no_evse(csms: Csms, station: Station) -> None:
    await _get_profiles(csms, station, {"chargingLimitSource": ["CSO"]}, None, 31)


async def test_tc_k_32_get_charging_profiles_by_id(csms: Csms, station: Station) -> None:
    await _get_profiles(csms, station, {"chargingProfileId": [9]}, None, 32)


async def test_tc_k_33_get_charging_profiles_evse_and_stack_level(
    csms: Csms, station: Station
) -> None:
    await _get_profiles(csms, station, {"stackLevel": 0}, 1, 33)


async def test_tc_k_34_get_charging_profiles_evse_and_limit_source(
    csms: Csms, station: Station
) -> None:
    await _get_profiles(csms, station, {"chargingLimitSource": ["EMS", "CSO"]}, 1, 34)


async def test_tc_k_35_get_charging_profiles_evse_and_purpose(csms: Csms, station: Station) -> None:
    await _get_profiles(csms, station, {"chargingProfilePurpose": "TxDefaultProfile"}, 1, 35)


async def test_tc_k_36_get_charging_profiles_evse_purpose_and_stack_level(
    csms: Csms, station: Station
) -> None:
    criterion = {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}
    await _get_profiles(csms, station, criterion, 1, 36)


# -- GetCompositeSchedule -----------------------------------------------------------


async def _composite(csms: Csms, station: Station, evse: int) -> None:
    schedule = {
        "evse_id": evse,
        "duration": 3600,
        "schedule_start": now_iso(),
        "charging_rate_unit": "A",
        "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
    }
    station.answers["GetCompositeSchedule"] = {"status": "Accepted", "schedule": schedule}
    told = await station.command(
        csms,
        Native("GetCompositeSchedule", {"duration": 3600, "evseId": evse, "chargingRateUnit": "A"}),
    )
    assert told["status"] == "Accepted"
    assert told["schedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 16.0}]
    (sent,) = station.received.of("GetCompositeSchedule")
    assert (sent["evse_id"], sent["duration"]) == (evse, 3600)


async def test_tc_k_43_get_composite_schedule_specific_evse(csms: Csms, station: Station) -> None:
    await _composite(csms, station, 1)


async def test_tc_k_44_get_composite_schedule_station(csms: Csms, station: Station) -> None:
    await _composite(csms, station, 0)


# -- external limits ----------------------------------------------------------------


async def test_tc_k_48_external_charging_limit_set(csms: Csms, station: Station) -> None:
    with csms.bus.subscribe(ev.CHARGER_NOTICE) as sub:
        answer = await station.call(
            call.NotifyChargingLimit(charging_limit={"charging_limit_source": "EMS"}, evse_id=1)
        )
        assert answer is not None
        notice = await sub.get()
    assert notice.payload["action"] == "NotifyChargingLimit"
    (row,) = await _notices(csms, "NotifyChargingLimit")
    assert row.payload == {"chargingLimit": {"chargingLimitSource": "EMS"}, "evseId": 1}


async def test_tc_k_50_external_limit_released_without_transaction(
    csms: Csms, station: Station
) -> None:
    await station.call(call.NotifyChargingLimit(charging_limit={"charging_limit_source": "EMS"}))
    await station.call(call.ClearedChargingLimit(charging_limit_source="EMS"))
    (row,) = await _notices(csms, "ClearedChargingLimit")
    assert row.payload == {"chargingLimitSource": "EMS"}


async def test_tc_k_51_external_limit_released_with_transaction(
    csms: Csms, station: Station
) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    await station.call(
        call.NotifyChargingLimit(charging_limit={"charging_limit_source": "EMS"}, evse_id=1)
    )
    await station.call(call.ClearedChargingLimit(charging_limit_source="EMS", evse_id=1))
    (row,) = await _notices(csms, "ClearedChargingLimit")
    assert row.payload == {"chargingLimitSource": "EMS", "evseId": 1}
    updated = await tx.event("Updated", "ChargingRateChanged", wh=1200.0)
    assert updated is not None


async def test_tc_k_52_external_constraints_in_report(csms: Csms, station: Station) -> None:
    await station.call(call.NotifyChargingLimit(charging_limit={"charging_limit_source": "EMS"}))
    told = await station.command(
        csms,
        Native(
            "GetChargingProfiles",
            {"requestId": 52, "chargingProfile": {"chargingLimitSource": ["EMS"]}},
        ),
    )
    assert told == {"status": "Accepted"}
    external = {
        "id": 1,
        "stack_level": 0,
        "charging_profile_purpose": "ChargingStationExternalConstraints",
        "charging_profile_kind": "Absolute",
        "charging_schedule": [
            {
                "id": 1,
                "start_schedule": now_iso(),
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
            }
        ],
    }
    await station.call(
        call.ReportChargingProfiles(
            request_id=52, charging_limit_source="EMS", evse_id=0, charging_profile=[external]
        )
    )
    (row,) = await _notices(csms, "ReportChargingProfiles")
    purpose = row.payload["chargingProfile"][0]["chargingProfilePurpose"]
    assert purpose == "ChargingStationExternalConstraints"


# -- ISO 15118 charging needs -------------------------------------------------------


async def _needs(station: Station, departure: datetime, wh: float, amps: float) -> str:
    answer = await station.call(
        call.NotifyEVChargingNeeds(
            evse_id=1,
            max_schedule_tuples=10,
            charging_needs={
                "requested_energy_transfer": "AC_three_phase",
                "departure_time": departure.isoformat().replace("+00:00", "Z"),
                "ac_charging_parameters": {
                    "energy_amount": wh,
                    "ev_min_current": 6,
                    "ev_max_current": amps,
                    "ev_max_voltage": 400,
                },
            },
        )
    )
    status: str = answer.status
    return status


async def test_tc_k_53_load_leveling_ev_needs_reach_the_session(
    csms: Csms, station: Station
) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    departure = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    with csms.bus.subscribe(ev.SESSION_UPDATED) as sub:
        assert await _needs(station, departure, 22000, 16) in ("Accepted", "Processing")
        needs = await sub.get()
    assert needs.payload["energy_wanted_wh"] == 22000
    assert needs.payload.get("needs") is True  # the control loop re-reads the session
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    assert row.departure_time == departure
    assert (row.energy_wanted_wh, row.ev_max_current) == (22000, 16)
    # The deadline's source (docs/deadlines.md), and the car's ask kept apart.
    assert (row.departure_source, row.departure_confidence) == ("charger", 1.0)
    assert row.energy_wanted_source == "charger"
    assert (row.ev_departure_time, row.ev_energy_wanted_wh) == (departure, 22000)
    answer = await station.call(
        call.NotifyEVChargingSchedule(
            time_base=now_iso(),
            evse_id=1,
            charging_schedule={
                "id": 1,
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
            },
        )
    )
    assert answer.status == "Accepted"
    (stored,) = await _notices(csms, "NotifyEVChargingSchedule")
    assert stored.payload["evseId"] == 1


async def test_tc_k_57_renegotiation_initiated_by_ev(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start(TAG)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    later = soon + timedelta(hours=4)
    await _needs(station, soon, 10000, 16)
    await _needs(station, later, 30000, 32)  # the EV asks again: the latest need wins
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    assert (row.departure_time, row.energy_wanted_wh, row.ev_max_current) == (later, 30000, 32)
    assert len(await _notices(csms, "NotifyEVChargingNeeds", 2)) == 2


async def test_an_api_deadline_stands_when_the_ev_asks_again(csms: Csms, station: Station) -> None:
    """What was set through the API (PATCH /sessions/{id}) beats the car's ask; the
    car's is kept for when the API's is cleared."""
    tx = Transaction(station)
    await tx.start(TAG)
    mine = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    async with csms.db.engine.begin() as conn:
        await conn.execute(
            sessions.update()
            .where(sessions.c.remote_transaction_id == tx.id)
            .values(departure_time=mine, departure_source="api", departure_confidence=1.0)
        )
    theirs = mine + timedelta(hours=3)
    await _needs(station, theirs, 30000, 32)
    (row,) = await csms.rows(select(sessions).where(sessions.c.remote_transaction_id == tx.id))
    assert (row.departure_time, row.departure_source) == (mine, "api")
    assert row.ev_departure_time == theirs
    # The energy was not the API's: the car's stands there.
    assert (row.energy_wanted_wh, row.energy_wanted_source) == (30000, "charger")
