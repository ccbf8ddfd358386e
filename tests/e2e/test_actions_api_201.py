"""The REST actions and the device-model API on a 2.0.1 station: the same bodies as
1.6, written as 2.0.1 CALLs; what 2.0.1 has no message for is a clear 422."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from ocpp.v201 import call
from sqlalchemy import select

from chargegrid.app import Runtime, build_app, ocpp_listener
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.services.auth import Role, create_token
from chargegrid.store.charger_store import sessions
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.uow import UnitOfWork
from tests.e2e.conftest import Csms, eventually
from tests.e2e.ocpp201.station import Station, close, connect, now_iso

pytestmark = pytest.mark.e2e
API = "/api/v1"


class Api:
    def __init__(self, http: httpx.AsyncClient, token: str, csms: Csms) -> None:
        self.http, self.token, self.csms = http, token, csms

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return await self.http.request(method, API + path, json=body, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, path, body)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", ocpp_port=0)
    db = Database(settings.database_url)
    await upgrade(db.engine)
    runtime = Runtime(settings, db, EventBus())
    async with UnitOfWork(db) as uow:
        token = await create_token(uow, Role.ADMIN)
    app = build_app(settings, runtime=runtime)
    async with (
        ocpp_listener(runtime) as central,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield Api(http, token, Csms(db, central, runtime.bus, central.server.port))
    await db.dispose()


async def booted_station(api: Api, ocpp_id: str, **fields: Any) -> tuple[str, Station, Any, Any]:
    site = await api.ok("POST", "/sites", {"name": "S", "max_current": 63})
    charger = await api.ok(
        "POST", "/chargers", {"ocpp_id": ocpp_id, "site_id": site["id"], **fields}
    )
    station, ws, task = await connect(api.csms, ocpp_id)
    boot = await station.call(
        call.BootNotification(charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp")
    )
    assert boot.status == "Accepted"
    await station.wait_for("GetBaseReport")  # the post-boot exchange is over
    return charger["id"], station, ws, task


async def test_actions_are_written_as_201_calls(api: Api) -> None:
    cid, station, ws, task = await booted_station(api, "API201")
    try:
        out = await api.ok("GET", f"/chargers/{cid}")
        assert out["ocpp_version"] == "2.0.1"
        assert out["capabilities"]["device_model"] is True
        assert out["capabilities"]["phase_to_use"] is True
        assert out["capabilities"]["configuration_keys"] is False

        await api.ok("POST", "/id-tags", {"id_tag": "APP"})
        answer = await api.ok(
            "POST", f"/chargers/{cid}/actions/remote-start", {"id_tag": "APP", "evse_number": 1}
        )
        assert answer == {"status": "Accepted"}
        (start,) = station.received.of("RequestStartTransaction")
        assert start["id_token"] == {"id_token": "APP", "type": "Central"}
        assert start["evse_id"] == 1 and isinstance(start["remote_start_id"], int)

        await api.ok("POST", f"/chargers/{cid}/actions/reset", {"type": "hard"})
        assert station.received.of("Reset")[-1]["type"] == "Immediate"
        await api.ok("POST", f"/chargers/{cid}/actions/unlock", {"evse_number": 1})
        assert station.received.of("UnlockConnector")[-1] == {"evse_id": 1, "connector_id": 1}
        await api.ok(
            "POST",
            f"/chargers/{cid}/actions/change-availability",
            {"evse_number": 1, "type": "inoperative"},
        )
        assert station.received.of("ChangeAvailability")[-1] == {
            "operational_status": "Inoperative",
            "evse": {"id": 1},
        }
        await api.ok(
            "POST",
            f"/chargers/{cid}/actions/trigger-message",
            {"message": "StatusNotification", "evse_number": 1},
        )
        assert station.received.of("TriggerMessage")[-1]["requested_message"] == (
            "StatusNotification"
        )

        refused = await api.call("POST", f"/chargers/{cid}/actions/get-configuration", {})
        assert refused.status_code == 422
        assert "/variables" in refused.text and "get-variables" in refused.text

        answer = await api.ok(
            "POST",
            f"/chargers/{cid}/actions/set-variables",
            {
                "variables": [
                    {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "120"}
                ]
            },
        )
        assert answer["set_variable_result"][0]["attribute_status"] == "Accepted"
        page = await api.ok("GET", f"/chargers/{cid}/variables?component=OCPPCommCtrlr")
        (row,) = page["data"]
        assert (row["variable"], row["value"], row["source"]) == ("HeartbeatInterval", "120", "set")

        raw = await api.ok(
            "POST",
            f"/chargers/{cid}/actions/ocpp-call",
            {"action": "GetTransactionStatus", "payload": {}},
        )
        assert (raw["messages_in_queue"], raw["ongoing_indicator"]) == (False, True)
        wrong = await api.call(
            "POST",
            f"/chargers/{cid}/actions/ocpp-call",
            {"action": "GetConfiguration", "payload": {}},
        )
        assert wrong.status_code == 422
    finally:
        await close(ws, task)


async def test_remote_stop_names_the_stations_transaction(api: Api) -> None:
    cid, station, ws, task = await booted_station(api, "STOP201")
    try:
        tx = str(uuid.uuid4())
        await station.call(
            call.TransactionEvent(
                event_type="Started",
                timestamp=now_iso(),
                trigger_reason="CablePluggedIn",
                seq_no=0,
                transaction_info={"transaction_id": tx, "charging_state": "EVConnected"},
                evse={"id": 1, "connector_id": 1},
            )
        )
        (row,) = await api.csms.rows(
            select(sessions.c.id).where(sessions.c.remote_transaction_id == tx)
        )
        await api.ok("POST", f"/chargers/{cid}/actions/remote-stop", {"session_id": str(row.id)})
        assert station.received.of("RequestStopTransaction")[-1] == {"transaction_id": tx}
    finally:
        await close(ws, task)


async def test_a_pinned_version_refuses_the_other(api: Api) -> None:
    site = await api.ok("POST", "/sites", {"name": "S", "max_current": 63})
    await api.ok(
        "POST", "/chargers", {"ocpp_id": "PIN16", "site_id": site["id"], "ocpp_version_pin": "1.6"}
    )
    with pytest.raises(Exception, match="400"):
        await connect(api.csms, "PIN16")
    # Offering both, it gets the pinned one.
    _station, ws, task = await connect(api.csms, "PIN16", subprotocols=["ocpp2.0.1", "ocpp1.6"])
    try:
        assert ws.subprotocol == "ocpp1.6"
    finally:
        await close(ws, task)


async def test_a_basic_auth_password_set_through_variables_is_the_next_handshakes(
    api: Api,
) -> None:
    cid, _station, ws, task = await booted_station(api, "PW201")
    try:
        answer = await api.ok(
            "POST",
            f"/chargers/{cid}/actions/set-variables",
            {
                "variables": [
                    {
                        "component": "SecurityCtrlr",
                        "variable": "BasicAuthPassword",
                        "value": "a-new-secret-of-24-chars",
                    }
                ]
            },
        )
        assert answer["set_variable_result"][0]["attribute_status"] == "Accepted"
        out = await api.ok("GET", f"/chargers/{cid}")
        # Pending until the station connects with it: it may not have applied it yet.
        assert (out["has_password"], out["password_pending"]) == (False, True)
        page = await api.ok("GET", f"/chargers/{cid}/variables?component=SecurityCtrlr")
        assert [v["value"] for v in page["data"]] == [None]  # never stored in clear
    finally:
        await close(ws, task)
    url = api.csms.url("PW201")
    good = await websockets.connect(
        url.replace("ws://", "ws://PW201:a-new-secret-of-24-chars@"), subprotocols=["ocpp2.0.1"]
    )
    await good.close()
    out = await api.ok("GET", f"/chargers/{cid}")
    assert (out["has_password"], out["password_pending"]) == (True, False)
    with pytest.raises(websockets.InvalidStatus):  # now it needs it
        await websockets.connect(url, subprotocols=["ocpp2.0.1"])
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(
            url.replace("ws://", "ws://PW201:wrong@"), subprotocols=["ocpp2.0.1"]
        )


async def test_a_changed_meter_interval_is_set_as_tx_updated_interval(api: Api) -> None:
    cid, station, ws, task = await booted_station(api, "MV201")
    try:
        reports = len(station.received.of("GetBaseReport"))
        await api.ok("PATCH", f"/chargers/{cid}", {"meter_value_interval": 30})
        sets = await station.wait_for("SetVariables", count=2)
        data = sets[-1]["set_variable_data"]
        assert {(d["variable"]["name"], d["attribute_value"]) for d in data} == {
            ("TxUpdatedInterval", "30")
        }

        async def applied() -> bool:
            return (await api.ok("GET", f"/chargers/{cid}"))["config_sync"] == "applied"

        await eventually(applied, what="config_sync applied")
        # A setting changed is no reason to ask for the whole device model again.
        assert len(station.received.of("GetBaseReport")) == reports
    finally:
        await close(ws, task)
