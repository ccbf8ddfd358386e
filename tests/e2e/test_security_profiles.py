"""Security profiles over real TLS handshakes (OCPP 1.6 Security Whitepaper, 2.0.1 part
A): profile 1 on ws or wss, profile 2 only on wss with its password, profile 3 only on
wss with a client certificate from our CA naming the charger; TLS 1.2+ only."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.ocpp.tls import TlsFiles
from chargegrid.store.charger_store import SqlChargerStore
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from tests.e2e.conftest import Csms
from tests.e2e.tls_certs import Issued, TestCa


class Tls:
    def __init__(self, csms: Csms, ca: TestCa, tls_port: int) -> None:
        self.csms, self.ca, self.tls_port = csms, ca, tls_port

    def url(self, ocpp_id: str, userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"wss://{at}127.0.0.1:{self.tls_port}/ocpp/{ocpp_id}"

    def client(self, cert: Issued | None = None, ca: TestCa | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=(ca or self.ca).files.cert)
        if cert is not None:
            context.load_cert_chain(cert.cert, cert.key)
        return context


pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning"),
]


@pytest.fixture
async def tls(tmp_path: Path) -> AsyncIterator[Tls]:
    ca = TestCa(tmp_path)
    server = ca.issue("127.0.0.1", server=True)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'tls.db'}")
    await upgrade(db.engine)
    from chargegrid.bus.memory import EventBus

    bus = EventBus()
    central = OcppCentralSystem(SqlChargerStore(db.engine), bus, heartbeat_interval=60)
    port = await central.start(
        "127.0.0.1", 0, tls=TlsFiles(server.cert, server.key, ca.files.cert), tls_port=0
    )
    try:
        yield Tls(Csms(db, central, bus, port), ca, central.tls_port)
    finally:
        await central.stop()
        await db.dispose()


async def opens(url: str, **options: Any) -> bool:
    async with websockets.connect(url, subprotocols=["ocpp2.0.1"], **options) as ws:
        return ws.subprotocol == "ocpp2.0.1"


async def refused(url: str, status: int, **options: Any) -> None:
    with pytest.raises(websockets.InvalidStatus) as err:
        await websockets.connect(url, subprotocols=["ocpp2.0.1"], **options)
    assert err.value.response.status_code == status


async def handshake_fails(url: str, context: ssl.SSLContext) -> None:
    """The TLS handshake refuses it: on TLS 1.3 a client certificate is judged after the
    client's Finished, so the client sees an alert or the connection closed before HTTP."""
    with pytest.raises((ssl.SSLError, websockets.InvalidMessage, ConnectionError)):
        await websockets.connect(url, subprotocols=["ocpp2.0.1"], ssl=context)


async def test_profile_1_on_ws_and_wss(tls: Tls) -> None:
    await tls.csms.add_charger("P1", password="a-password-of-16ch")
    assert await opens(tls.csms.url("P1").replace("ws://", "ws://P1:a-password-of-16ch@"))
    assert await opens(tls.url("P1", "P1:a-password-of-16ch"), ssl=tls.client())


async def test_profile_2_only_over_tls_and_with_its_password(tls: Tls) -> None:
    await tls.csms.add_charger("P2", password="a-password-of-16ch", security_profile=2)
    await refused(tls.csms.url("P2").replace("ws://", "ws://P2:a-password-of-16ch@"), 403)
    await refused(tls.url("P2", "P2:wrong"), 401, ssl=tls.client())
    await refused(tls.url("P2"), 401, ssl=tls.client())
    assert await opens(tls.url("P2", "P2:a-password-of-16ch"), ssl=tls.client())
    await tls.csms.add_charger("P2-NOPW", security_profile=2)
    await refused(tls.url("P2-NOPW"), 403, ssl=tls.client())


async def test_profile_3_needs_a_certificate_from_our_ca_naming_it(tls: Tls) -> None:
    await tls.csms.add_charger("P3", security_profile=3)
    mine = tls.ca.issue("P3")
    assert await opens(tls.url("P3"), ssl=tls.client(mine))
    await refused(tls.url("P3"), 401, ssl=tls.client())  # no certificate
    await refused(tls.url("P3"), 403, ssl=tls.client(tls.ca.issue("OTHER")))  # not its name
    await refused(tls.csms.url("P3"), 403)  # no downgrade to ws
    # A certificate of another CA, or an expired one, fails the TLS handshake itself.
    stranger = TestCa(tls.ca.folder, "Other Root").issue("P3")
    await handshake_fails(tls.url("P3"), tls.client(stranger))
    expired = tls.ca.issue("P3", valid_days=1, start_days_ago=3)
    await handshake_fails(tls.url("P3"), tls.client(expired))


async def test_tls_older_than_1_2_is_refused(tls: Tls) -> None:
    await tls.csms.add_charger("OLD")
    context = tls.client()
    context.minimum_version = ssl.TLSVersion.TLSv1  # deprecated: that is the point
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    await handshake_fails(tls.url("OLD"), context)
