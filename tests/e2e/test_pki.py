"""The built-in CA end to end: REST in process, OCPP over real TLS sockets, chargers
written with the independent ``ocpp`` library (1.6 security extension and 2.0.1).

A charger trusts the root it got from ``GET /pki/root.pem``, connects with profile 2,
sends a CSR, receives its chain in CertificateSigned, and then connects with profile 3
using the certificate our CA signed. The server's certificate is replaced while it runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from chargegrid.app import Runtime, build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.ocpp.central import OcppCentralSystem
from chargegrid.ocpp.component import ocpp_server
from chargegrid.pki import x509 as px
from chargegrid.services.auth import Role, create_token
from chargegrid.services.certificates import (
    ChargerCertificates,
    issue_server_certificate,
    make_ca,
    store_ca,
)
from chargegrid.store.charger_store import SqlChargerStore
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.pki_store import SqlPkiStore
from chargegrid.store.uow import UnitOfWork
from tests.e2e.conftest import eventually
from tests.e2e.tls_certs import TestCa

pytestmark = pytest.mark.e2e
API = "/api/v1"
PASSWORD = "pki-test-password-16"


@dataclass
class Stack:
    http: httpx.AsyncClient
    runtime: Runtime
    central: OcppCentralSystem
    pki: SqlPkiStore
    token: str
    folder: Path

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return await self.http.request(method, API + path, json=body, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(method, path, body)
        assert response.status_code < 300, (response.status_code, response.text)
        return (
            response.json()
            if response.headers.get("content-type", "").endswith("json")
            else response.text
        )

    def wss(self, ocpp_id: str, password: str | None = None) -> str:
        auth = f"{ocpp_id}:{password}@" if password else ""
        return f"wss://{auth}127.0.0.1:{self.central.tls_port}/ocpp/{ocpp_id}"

    async def add_charger(self, ocpp_id: str, **fields: Any) -> dict[str, Any]:
        site = await self.ok("POST", "/sites", {"name": f"site {ocpp_id}", "max_current": 63})
        body = {"ocpp_id": ocpp_id, "site_id": site["id"], "password": PASSWORD, **fields}
        charger: dict[str, Any] = await self.ok("POST", "/chargers", body)
        return charger


async def _stack(
    tmp_path: Path, with_ca: bool = True, files: TestCa | None = None
) -> AsyncIterator[Stack]:
    own: dict[str, Any] = {}
    if files is not None:  # the operator's server certificate and client CA
        server = files.issue("127.0.0.1", server=True)
        own = {"tls_cert": str(server.cert), "tls_key": str(server.key)}
        own["tls_client_ca"] = str(files.files.cert)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'pki.db'}",
        ocpp_port=0,
        ocpp_tls_port=0,
        tls_reload_s=3600,  # the tests call refresh() themselves
        **own,
    )
    db = Database(settings.database_url)
    await upgrade(db.engine)
    pki = SqlPkiStore(db.engine)
    if with_ca:
        await store_ca(pki, make_ca(["127.0.0.1", "localhost"]))
    runtime = Runtime(settings, db, EventBus())
    async with UnitOfWork(db) as uow:
        token = await create_token(uow, Role.ADMIN)
    app = build_app(settings, runtime=runtime)
    async with (
        ocpp_server(runtime, SqlChargerStore(db.engine), pki) as central,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield Stack(http, runtime, central, pki, token, tmp_path)
    await db.dispose()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async for s in _stack(tmp_path):
        yield s


def csr_for(common_name: str, key: px.PrivateKey | None = None) -> tuple[str, px.PrivateKey]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme CPO"),
                ]
            )
        )
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def trusting(root_pem: str) -> ssl.SSLContext:
    """A charger's TLS client that trusts our root (what installers put on it)."""
    return ssl.create_default_context(cadata=root_pem)


def with_client_cert(context: ssl.SSLContext, folder: Path, chain: str, key: Any) -> None:
    """Profile 3: the certificate our CA signed, and the key the charger kept."""
    cert_file, key_file = folder / "client.pem", folder / "client.key"
    cert_file.write_text(chain)
    key_file.write_text(px.key_pem(key))
    context.load_cert_chain(cert_file, key_file)


@dataclass
class Inbox:
    """What the central system sent the charger, per action."""

    calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def got(self, action: str, payload: dict[str, Any]) -> None:
        self.calls.setdefault(action, []).append(payload)
        self.event.set()


class Charger16(ChargePoint16):  # type: ignore[misc]
    inbox: Inbox

    @on("CertificateSigned")  # type: ignore[misc]
    def on_certificate_signed(self, certificate_chain: str) -> Any:
        self.inbox.got("CertificateSigned", {"certificate_chain": certificate_chain})
        return result16.CertificateSigned(status="Accepted")

    @on("InstallCertificate")  # type: ignore[misc]
    def on_install(self, certificate_type: str, certificate: str) -> Any:
        self.inbox.got("InstallCertificate", {"type": certificate_type, "pem": certificate})
        return result16.InstallCertificate(status="Accepted")

    @on("ExtendedTriggerMessage")  # type: ignore[misc]
    def on_trigger(self, requested_message: str, **_: Any) -> Any:
        self.inbox.got("ExtendedTriggerMessage", {"requested_message": requested_message})
        return result16.ExtendedTriggerMessage(status="Accepted")

    @on("GetInstalledCertificateIds")  # type: ignore[misc]
    def on_ids(self, certificate_type: str) -> Any:
        self.inbox.got("GetInstalledCertificateIds", {"type": certificate_type})
        return result16.GetInstalledCertificateIds(status="NotFound")

    @on("DeleteCertificate")  # type: ignore[misc]
    def on_delete(self, certificate_hash_data: dict[str, str]) -> Any:
        self.inbox.got("DeleteCertificate", certificate_hash_data)
        return result16.DeleteCertificate(status="Accepted")

    # The post-boot exchange: answered like a simple wallbox.
    @on("GetConfiguration")  # type: ignore[misc]
    def on_get_configuration(self, **_: Any) -> Any:
        return result16.GetConfiguration(configuration_key=[])

    @on("ChangeConfiguration")  # type: ignore[misc]
    def on_change_configuration(self, **_: Any) -> Any:
        return result16.ChangeConfiguration(status="Accepted")

    @on("SetChargingProfile")  # type: ignore[misc]
    def on_profile(self, **_: Any) -> Any:
        return result16.SetChargingProfile(status="Accepted")


class Charger201(ChargePoint201):  # type: ignore[misc]
    inbox: Inbox

    @on("CertificateSigned")  # type: ignore[misc]
    def on_certificate_signed(self, certificate_chain: str, **extra: Any) -> Any:
        self.inbox.got("CertificateSigned", {"certificate_chain": certificate_chain, **extra})
        return result201.CertificateSigned(status="Accepted")

    @on("TriggerMessage")  # type: ignore[misc]
    def on_trigger(self, requested_message: str, **_: Any) -> Any:
        self.inbox.got("TriggerMessage", {"requested_message": requested_message})
        return result201.TriggerMessage(status="Accepted")

    @on("GetVariables")  # type: ignore[misc]
    def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        results = [
            {
                "attribute_status": "UnknownVariable",
                "component": d["component"],
                "variable": d["variable"],
            }
            for d in get_variable_data
        ]
        return result201.GetVariables(get_variable_result=results)

    @on("SetVariables")  # type: ignore[misc]
    def on_set_variables(self, set_variable_data: list[dict[str, Any]]) -> Any:
        results = [
            {
                "attribute_status": "Accepted",
                "component": d["component"],
                "variable": d["variable"],
            }
            for d in set_variable_data
        ]
        return result201.SetVariables(set_variable_result=results)

    @on("SetChargingProfile")  # type: ignore[misc]
    def on_profile(self, **_: Any) -> Any:
        return result201.SetChargingProfile(status="Accepted")

    @on("GetBaseReport")  # type: ignore[misc]
    def on_report(self, **_: Any) -> Any:
        return result201.GetBaseReport(status="NotSupported")


async def connect(
    stack: Stack, ocpp_id: str, version: str, context: ssl.SSLContext, password: str | None
) -> tuple[Any, Any, asyncio.Task[None]]:
    ws = await websockets.connect(
        stack.wss(ocpp_id, password), subprotocols=[f"ocpp{version}"], ssl=context
    )
    cls = Charger16 if version == "1.6" else Charger201
    cp = cls(ocpp_id, ws)
    cp.inbox = Inbox()
    task = asyncio.create_task(cp.start())
    return cp, ws, task


async def boot(cp: Any, version: str) -> None:
    if version == "1.6":
        answer = await cp.call(
            call16.BootNotification(charge_point_vendor="Acme", charge_point_model="W")
        )
    else:
        answer = await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "W"}, reason="PowerUp"
            )
        )
    assert answer.status == "Accepted"


async def sign(cp: Any, version: str, csr: str) -> Any:
    if version == "1.6":
        return await cp.call(call16.SignCertificate(csr=csr))
    return await cp.call(
        call201.SignCertificate(csr=csr, certificate_type="ChargingStationCertificate")
    )


async def closed(ws: Any, task: asyncio.Task[None]) -> None:
    await ws.close()
    task.cancel()
    with pytest.raises((asyncio.CancelledError, websockets.ConnectionClosed)):
        await task


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_csr_round_trip_then_profile_3_with_the_signed_certificate(
    stack: Stack, version: str
) -> None:
    ocpp_id = f"PKI-{version}"
    charger = await stack.add_charger(ocpp_id, security_profile=2)
    assert charger["certificate"] is None
    root = await stack.ok("GET", "/pki/root.pem")
    assert root.startswith("-----BEGIN CERTIFICATE-----")
    cp, ws, task = await connect(stack, ocpp_id, version, trusting(root), PASSWORD)
    try:
        await boot(cp, version)
        # Another charger's name in the CSR: refused, nothing signed.
        wrong, _ = csr_for("SOMEONE-ELSE")
        assert (await sign(cp, version, wrong)).status == "Rejected"
        mine, key = csr_for(ocpp_id)
        assert (await sign(cp, version, mine)).status == "Accepted"
        await eventually(
            lambda: _has(cp.inbox, "CertificateSigned"), what="CertificateSigned arrives"
        )
        (signed,) = cp.inbox.calls["CertificateSigned"]
    finally:
        await closed(ws, task)
    chain = x509.load_pem_x509_certificates(signed["certificate_chain"].encode())
    leaf, issuer = chain
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ocpp_id
    leaf.verify_directly_issued_by(issuer)
    issuer.verify_directly_issued_by(x509.load_pem_x509_certificate(root.encode()))
    if version == "2.0.1":
        assert signed["certificate_type"] == "ChargingStationCertificate"
    # The charger resource shows what we signed.
    after = await stack.ok("GET", f"/chargers/{charger['id']}")
    assert after["certificate"]["serial"] == format(leaf.serial_number, "x")
    assert "CN=" + ocpp_id in after["certificate"]["subject"]
    # Profile 3: the certificate is its identity now, no password.
    await stack.ok("PATCH", f"/chargers/{charger['id']}", {"security_profile": 3})
    context = trusting(root)
    with_client_cert(context, stack.folder, signed["certificate_chain"], key)
    cp, ws, task = await connect(stack, ocpp_id, version, context, None)
    try:
        await boot(cp, version)
    finally:
        await closed(ws, task)
    # Without it, the same charger is refused (401: no certificate).
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect(stack, ocpp_id, version, trusting(root), None)
    assert refused.value.response.status_code == 401


async def test_csrs_we_will_not_sign(stack: Stack) -> None:
    """Weak keys, broken CSRs and V2G certificates are refused with a reason."""
    charger = await stack.add_charger("PKI-WEAK", security_profile=2)
    record = await stack.central.messages.identify("PKI-WEAK")
    assert record is not None and str(record.id) == charger["id"]
    certificates = stack.central.certificates
    assert certificates is not None
    weak_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak, _ = csr_for("PKI-WEAK", weak_rsa)
    mine, _ = csr_for("PKI-WEAK")
    cases = {
        "InvalidKey": (weak, "ChargingStationCertificate"),
        "InvalidCSR": ("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "ChargingStationCertificate"),
        "NotSupported": (mine, "V2GCertificate"),
        "InvalidCN": (csr_for("PKI-WEAK2")[0], "ChargingStationCertificate"),
    }
    for reason, (csr, kind) in cases.items():
        verdict = await certificates.review(record, csr, kind)
        assert (verdict.accepted, verdict.reason) == (False, reason)
    assert (await stack.ok("GET", f"/chargers/{charger['id']}"))["certificate"] is None


async def test_2_0_1_refusal_carries_its_reason(stack: Stack) -> None:
    await stack.add_charger("PKI-R201", security_profile=2)
    root = await stack.ok("GET", "/pki/root.pem")
    cp, ws, task = await connect(stack, "PKI-R201", "2.0.1", trusting(root), PASSWORD)
    try:
        await boot(cp, "2.0.1")
        answer = await sign(cp, "2.0.1", csr_for("NOT-ME")[0])
    finally:
        await closed(ws, task)
    assert answer.status == "Rejected"
    assert answer.status_info["reason_code"] == "InvalidCN"


async def test_server_certificate_is_replaced_without_a_restart(stack: Stack) -> None:
    await stack.add_charger("PKI-RELOAD", security_profile=2)
    root = await stack.ok("GET", "/pki/root.pem")

    async def served_serial() -> int:
        _reader, writer = await asyncio.open_connection(
            "127.0.0.1", stack.central.tls_port, ssl=trusting(root)
        )
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        return x509.load_der_x509_certificate(der).serial_number

    before = await served_serial()
    open_cp, open_ws, open_task = await connect(
        stack, "PKI-RELOAD", "1.6", trusting(root), PASSWORD
    )
    try:
        await boot(open_cp, "1.6")
        renewed = await issue_server_certificate(stack.pki)
        assert stack.central.tls is not None
        assert await stack.central.tls.refresh()
        after = await served_serial()
        assert after != before
        assert after == px.load_cert(renewed.cert_pem).serial_number
        # The connection made before the change goes on.
        answer = await open_cp.call(call16.Heartbeat())
        assert answer.current_time
    finally:
        await closed(open_ws, open_task)
    # Nothing new: no rebuild.
    assert not await stack.central.tls.refresh()


async def test_certificate_actions_reach_the_charger(stack: Stack) -> None:
    charger = await stack.add_charger("PKI-ACT", security_profile=2)
    root = await stack.ok("GET", "/pki/root.pem")
    cp, ws, task = await connect(stack, "PKI-ACT", "1.6", trusting(root), PASSWORD)
    base = f"/chargers/{charger['id']}/actions"
    try:
        await boot(cp, "1.6")
        await eventually(
            lambda: _online(stack, charger["id"]), what="the charger is ready for calls"
        )
        answer = await stack.ok("POST", f"{base}/install-certificate", {})
        assert answer["status"] == "Accepted"
        (installed,) = cp.inbox.calls["InstallCertificate"]
        # 1.6's name for the CSMS root, and our root by default.
        assert installed == {"type": "CentralSystemRootCertificate", "pem": root}
        answer = await stack.ok(
            "POST",
            f"{base}/get-installed-certificate-ids",
            {"certificate_types": ["CSMSRootCertificate"]},
        )
        assert answer["status"] == "NotFound"
        two = await stack.call(
            "POST",
            f"{base}/get-installed-certificate-ids",
            {"certificate_types": ["CSMSRootCertificate", "ManufacturerRootCertificate"]},
        )
        assert two.status_code == 422 and "certificate_types" in two.text
        v2g = await stack.call(
            "POST", f"{base}/install-certificate", {"certificate_type": "V2GRootCertificate"}
        )
        assert v2g.status_code == 422
        root_cert = px.load_cert(root)
        hashes_ = px.hash_data(root_cert, root_cert)
        body = {
            "certificate_hash_data": {
                "issuer_name_hash": hashes_.issuer_name_hash,
                "issuer_key_hash": hashes_.issuer_key_hash,
                "serial_number": hashes_.serial_number,
            }
        }
        assert (await stack.ok("POST", f"{base}/delete-certificate", body))["status"] == "Accepted"
        assert cp.inbox.calls["DeleteCertificate"] == [
            {
                "hash_algorithm": "SHA256",
                "issuer_name_hash": hashes_.issuer_name_hash,
                "issuer_key_hash": hashes_.issuer_key_hash,
                "serial_number": hashes_.serial_number,
            }
        ]
        assert (await stack.ok("POST", f"{base}/renew-certificate"))["status"] == "Accepted"
        assert cp.inbox.calls["ExtendedTriggerMessage"] == [
            {"requested_message": "SignChargePointCertificate"}
        ]
    finally:
        await closed(ws, task)


async def test_renewal_is_asked_before_expiry_once_a_day(stack: Stack) -> None:
    charger = await stack.add_charger("PKI-RENEW", security_profile=2)
    root = await stack.ok("GET", "/pki/root.pem")
    cp, ws, task = await connect(stack, "PKI-RENEW", "2.0.1", trusting(root), PASSWORD)
    try:
        await boot(cp, "2.0.1")
        assert (await sign(cp, "2.0.1", csr_for("PKI-RENEW")[0])).status == "Accepted"
        await eventually(lambda: _has(cp.inbox, "CertificateSigned"), what="signed")
        await eventually(lambda: _online(stack, charger["id"]), what="online")
        now = dt.datetime.now(dt.UTC)
        clock = {"now": now}
        certificates = ChargerCertificates(
            stack.pki, stack.central.gateway, clock=lambda: clock["now"]
        )
        assert await certificates.ask_renewals() == 0  # a year to go
        clock["now"] = now + dt.timedelta(days=px.CHARGER_DAYS - 20)
        assert await certificates.ask_renewals() == 1
        assert cp.inbox.calls["TriggerMessage"] == [
            {"requested_message": "SignChargingStationCertificate"}
        ]
        assert await certificates.ask_renewals() == 0  # asked today already
        clock["now"] += dt.timedelta(days=1, minutes=1)
        assert await certificates.ask_renewals() == 1
        after = await stack.ok("GET", f"/chargers/{charger['id']}")
        assert after["certificate"]["renewal_requested_at"] is not None
    finally:
        await closed(ws, task)


async def test_without_a_ca(tmp_path: Path) -> None:
    """No CA and no files: wss cannot start, and says what to do."""
    with pytest.raises(SystemExit, match="ca init"):
        async for _ in _stack(tmp_path, with_ca=False):
            pass


async def test_operators_files_beside_the_ca(tmp_path: Path) -> None:
    """With --tls-cert/--tls-key the server shows the operator's certificate, and a
    profile-3 charger may hold a certificate of the operator's client CA or of ours."""
    operator = TestCa(tmp_path, "Operator Root")
    async for stack in _stack(tmp_path, files=operator):
        charger = await stack.add_charger("PKI-OURS", security_profile=3)
        await stack.add_charger("PKI-THEIRS", security_profile=3)
        record = await stack.central.messages.identify("PKI-OURS")
        assert record is not None and stack.central.certificates is not None
        request, key = csr_for("PKI-OURS")
        verdict = await stack.central.certificates.review(
            record, request, "ChargingStationCertificate"
        )
        assert verdict.accepted and verdict.chain is not None
        context = ssl.create_default_context(cafile=operator.files.cert)
        with_client_cert(context, stack.folder, verdict.chain, key)
        cp, ws, task = await connect(stack, "PKI-OURS", "1.6", context, None)
        try:
            await boot(cp, "1.6")
        finally:
            await closed(ws, task)
        theirs = operator.issue("PKI-THEIRS")
        context = ssl.create_default_context(cafile=operator.files.cert)
        context.load_cert_chain(theirs.cert, theirs.key)
        cp, ws, task = await connect(stack, "PKI-THEIRS", "1.6", context, None)
        try:
            await boot(cp, "1.6")
        finally:
            await closed(ws, task)
        assert (await stack.ok("GET", f"/chargers/{charger['id']}"))["certificate"] is not None


async def _has(inbox: Inbox, action: str) -> bool:
    return bool(inbox.calls.get(action))


async def _online(stack: Stack, charger_id: str) -> bool:
    charger = await stack.ok("GET", f"/chargers/{charger_id}")
    return bool(charger["online"]) and stack.central.gateway.is_online(charger["ocpp_id"])
