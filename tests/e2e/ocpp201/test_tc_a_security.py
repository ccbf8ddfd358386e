"""OCPP 2.0.1 Part 6 CSMS conformance, block A (Security), security profile 1.

Not applicable here (TLS, certificates or password rotation; another issue's):
TC_A_04_CSMS, TC_A_06_CSMS, TC_A_07_CSMS, TC_A_08_CSMS, TC_A_09_CSMS, TC_A_10_CSMS,
TC_A_11_CSMS, TC_A_12_CSMS, TC_A_13_CSMS, TC_A_14_CSMS, TC_A_19_CSMS.
"""

from __future__ import annotations

import base64

import pytest
import websockets
from ocpp.v201 import call

from chargegrid import events as ev
from tests.e2e.conftest import Csms
from tests.e2e.ocpp201.notices import notices
from tests.e2e.ocpp201.station import close, connect, now_iso

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-enough-secret-16+"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_tc_a_01_basic_auth_valid_and_security_event_stored(csms: Csms) -> None:
    await csms.add_charger("CS1", password=PASSWORD)
    station, ws, task = await connect(csms, "CS1", additional_headers=basic("CS1", PASSWORD))
    try:
        assert (await station.boot()).status == "Accepted"
        with csms.bus.subscribe(ev.CHARGER_NOTICE) as sub:
            answer = await station.call(
                call.SecurityEventNotification(
                    type="StartupOfTheDevice", timestamp=now_iso(), tech_info="cold boot"
                )
            )
            assert answer is not None
            notice = await sub.get()
        assert notice.payload["action"] == "SecurityEventNotification"
        (stored,) = await notices(csms, "SecurityEventNotification")
        assert (stored["type"], stored["techInfo"]) == ("StartupOfTheDevice", "cold boot")
    finally:
        await close(ws, task)


async def test_tc_a_02_basic_auth_username_is_not_the_station_id(csms: Csms) -> None:
    await csms.add_charger("CS1", password=PASSWORD)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            csms.url("CS1"), subprotocols=["ocpp2.0.1"], additional_headers=basic("CS2", PASSWORD)
        )
    assert refused.value.response.status_code == 401
    assert not (await csms.charger_row("CS1")).online


async def test_tc_a_03_basic_auth_invalid_password(csms: Csms) -> None:
    await csms.add_charger("CS1", password=PASSWORD)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            csms.url("CS1"), subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1", "wrong")
        )
    assert refused.value.response.status_code == 401
    assert not (await csms.charger_row("CS1")).online
