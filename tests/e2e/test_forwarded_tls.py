"""Behind a TLS-terminating proxy: the test plays the proxy (plain ws from 127.0.0.1
with the headers nginx or haproxy would add), trusted or not, over real sockets."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargegrid.ocpp.forwarded_tls import parse_forwarded_certificate
from chargegrid.services.certificates import make_ca, store_ca
from chargegrid.store.pki_store import SqlPkiStore
from tests.e2e.conftest import eventually
from tests.e2e.security_stack import Stack, basic, security_stack
from tests.e2e.tls_certs import Issued, TestCa

pytestmark = pytest.mark.e2e


def nginx(cert: Issued) -> str:
    """``$ssl_client_escaped_cert``: the PEM, URL-encoded."""
    return quote(cert.cert.read_text(), safe="")


def haproxy(cert: Issued) -> str:
    """``%[ssl_c_der,base64]``: the DER, base64."""
    der = x509.load_pem_x509_certificate(cert.cert.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    return base64.b64encode(der).decode()


async def status(stack: Stack, ocpp_id: str, headers: dict[str, str]) -> int:
    try:
        ws = await websockets.connect(
            stack.csms.url(ocpp_id), subprotocols=["ocpp1.6"], additional_headers=headers
        )
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return 101


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path)


@pytest.fixture
async def trusted(tmp_path: Path, ca: TestCa) -> AsyncIterator[Stack]:
    async with security_stack(
        tmp_path, trusted_proxies=("127.0.0.1/32",), tls_client_ca=str(ca.files.cert)
    ) as stack:
        yield stack


@pytest.fixture
async def untrusted(tmp_path: Path, ca: TestCa) -> AsyncIterator[Stack]:
    async with security_stack(
        tmp_path, trusted_proxies=("10.0.0.0/8",), tls_client_ca=str(ca.files.cert)
    ) as stack:
        yield stack


HTTPS = {"X-Forwarded-Proto": "https"}


async def test_a_trusted_proxy_forwards_profile_3_certificates(
    trusted: Stack, ca: TestCa, tmp_path: Path
) -> None:
    await trusted.add_charger("FWD-3", security_profile=3)
    own = ca.issue("FWD-3")
    assert await status(trusted, "FWD-3", {**HTTPS, "X-SSL-Client-Cert": nginx(own)}) == 101
    assert await status(trusted, "FWD-3", {**HTTPS, "X-SSL-Client-Cert": haproxy(own)}) == 101
    envoy = f'Hash=00;Cert="{nginx(own)}";Subject="CN=FWD-3"'
    assert await status(trusted, "FWD-3", {**HTTPS, "X-Forwarded-Client-Cert": envoy}) == 101
    # What a direct TLS handshake would refuse is refused here too.
    other_charger = ca.issue("FWD-OTHER")
    expired = ca.issue("FWD-3", valid_days=1, start_days_ago=3)
    stranger = TestCa(tmp_path / "..", name="Other Root").issue("FWD-3")
    for cert in (other_charger, expired, stranger):
        assert await status(trusted, "FWD-3", {**HTTPS, "X-SSL-Client-Cert": nginx(cert)}) == 403
    assert await status(trusted, "FWD-3", {**HTTPS, "X-SSL-Client-Cert": "garbage"}) == 403
    assert await status(trusted, "FWD-3", HTTPS) == 401  # no certificate at all
    # Without X-Forwarded-Proto the proxy says the charger spoke plain ws: a downgrade.
    assert await status(trusted, "FWD-3", {"X-SSL-Client-Cert": nginx(own)}) == 403


async def test_profile_2_through_a_trusted_proxy(trusted: Stack) -> None:
    charger = await trusted.add_charger("FWD-2", security_profile=2, password="p" * 20)
    assert await status(trusted, "FWD-2", {**HTTPS, **basic("FWD-2", "p" * 20)}) == 101
    assert await status(trusted, "FWD-2", {**HTTPS, **basic("FWD-2", "q" * 20)}) == 401
    assert await status(trusted, "FWD-2", basic("FWD-2", "p" * 20)) == 403

    async def downgrade_logged() -> bool:
        events = await trusted.security_events(charger["id"])
        return any(e["type"] == "SecurityProfileDowngradeRefused" for e in events)

    await eventually(downgrade_logged, what="the refused downgrade in the security log")


async def test_headers_from_an_untrusted_peer_are_ignored_and_logged(
    untrusted: Stack, ca: TestCa, caplog: pytest.LogCaptureFixture
) -> None:
    await untrusted.add_charger("FWD-U3", security_profile=3)
    plain = await untrusted.add_charger("FWD-U1")
    forged = {**HTTPS, "X-SSL-Client-Cert": nginx(ca.issue("FWD-U3"))}
    assert await status(untrusted, "FWD-U3", forged) == 403  # plain ws: no downgrade
    # A profile-1 charger still gets in; the headers are ignored, and said so.
    assert await status(untrusted, "FWD-U1", forged) == 101
    assert "not a trusted proxy" in caplog.text

    async def logged() -> bool:
        events = await untrusted.security_events(plain["id"])
        return any(e["type"] == "UntrustedForwardedHeaders" for e in events)

    await eventually(logged, what="the ignored headers in the security log")


def test_the_forms_proxies_send_parse_to_the_same_certificate(ca: TestCa) -> None:
    own = ca.issue("FWD-P")
    expected = x509.load_pem_x509_certificate(own.cert.read_bytes())
    pem = own.cert.read_text()
    folded = pem.replace("\n", "\n\t")  # nginx's older $ssl_client_cert
    for form in (nginx(own), haproxy(own), pem, folded, f'By=x;Cert="{nginx(own)}"'):
        assert parse_forwarded_certificate(form) == expected
    with pytest.raises(ValueError, match="not PEM or base64 DER"):
        parse_forwarded_certificate("%2D%2D%2D")


async def test_a_certificate_our_ca_signed_passes_a_proxy_too(tmp_path: Path) -> None:
    """No --tls-client-ca: a forwarded certificate is checked against the built-in CA,
    including one created while the server runs (followed like a reload)."""
    proxied = {"trusted_proxies": ("127.0.0.1/32",), "tls_reload_s": 0.05}
    async with security_stack(tmp_path, **proxied) as stack:
        await stack.add_charger("FWD-CA", security_profile=3)
        pki = SqlPkiStore(stack.runtime.db.engine)
        await store_ca(pki, make_ca(["127.0.0.1"]))
        record = await stack.central.messages.identify("FWD-CA")
        assert record is not None and stack.central.certificates is not None
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "FWD-CA")])
        request = (
            x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
        )
        csr = request.public_bytes(serialization.Encoding.PEM).decode()
        verdict = await stack.central.certificates.review(record, csr, "ChargingStationCertificate")
        assert verdict.accepted and verdict.chain is not None
        leaf = quote(
            verdict.chain.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n",
            safe="",
        )
        headers = {**HTTPS, "X-SSL-Client-Cert": leaf}

        async def accepted() -> bool:
            return await status(stack, "FWD-CA", headers) == 101

        await eventually(accepted, what="the proxy's client CAs follow the new CA")
