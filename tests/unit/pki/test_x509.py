"""The CA's certificates: what they say, what they chain to, and which CSRs are signed."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from chargegrid.pki import x509 as px

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def chain() -> tuple[px.Issued, px.Issued]:
    root = px.make_root("Test Root", "Acme", now=NOW)
    return root, px.make_sub_ca(root, "Test CSMS CA", now=NOW)


def csr(common_name: str | None, key: px.PrivateKey | None = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []
    names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CPO"))
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_the_chain_verifies_and_only_the_cas_may_sign(chain: tuple[px.Issued, px.Issued]) -> None:
    root, sub = chain
    root.cert.verify_directly_issued_by(root.cert)
    sub.cert.verify_directly_issued_by(root.cert)
    assert root.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    constraints = sub.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert root.cert.not_valid_after_utc - NOW > dt.timedelta(days=365 * 19)


def test_server_certificate_names_its_hosts(chain: tuple[px.Issued, px.Issued]) -> None:
    _, sub = chain
    server = px.issue_server(sub, ["csms.example.com", "10.0.0.5"], now=NOW)
    server.cert.verify_directly_issued_by(sub.cert)
    san = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["csms.example.com"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    usage = server.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    assert not server.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with pytest.raises(ValueError, match="hostname"):
        px.issue_server(sub, [], now=NOW)


def test_rsa_keys_are_at_least_2048_bits(chain: tuple[px.Issued, px.Issued]) -> None:
    root = px.make_root("RSA Root", key_type="rsa", now=NOW)
    key = root.cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size >= px.RSA_MIN_BITS


def test_a_charger_csr_is_signed_as_a_client_certificate(
    chain: tuple[px.Issued, px.Issued],
) -> None:
    _, sub = chain
    request = px.check_csr(csr("CP-1"), "CP-1")
    issued = px.sign_charger_csr(sub, request, now=NOW)
    issued.cert.verify_directly_issued_by(sub.cert)
    assert issued.cert.subject == request.subject  # CN and O as the charger asked
    usage = issued.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert issued.key is None  # the charger keeps its key
    info = px.summary(issued.cert)
    assert info.serial == format(issued.cert.serial_number, "x")
    assert info.not_after == NOW + dt.timedelta(days=px.CHARGER_DAYS)
    assert px.expires_within(issued.cert, 30, NOW + dt.timedelta(days=px.CHARGER_DAYS - 29))
    assert not px.expires_within(issued.cert, 30, NOW + dt.timedelta(days=px.CHARGER_DAYS - 31))


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        (csr("CP-2"), "InvalidCN"),
        (csr(None), "InvalidCN"),
        (csr("CP-1", rsa.generate_private_key(public_exponent=65537, key_size=1024)), "InvalidKey"),
        (csr("CP-1", ec.generate_private_key(ec.SECP192R1())), "InvalidKey"),
        ("not a csr", "InvalidCSR"),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n",
            "InvalidCSR",
        ),
    ],
)
def test_csrs_that_are_refused(pem: str, reason: str) -> None:
    with pytest.raises(px.CsrRefused) as refused:
        px.check_csr(pem, "CP-1")
    assert refused.value.reason == reason
    assert len(refused.value.reason) <= 20  # OCPP's reasonCode


def test_a_csr_whose_signature_does_not_match_its_key_is_refused() -> None:
    good = x509.load_pem_x509_csr(csr("CP-1").encode())
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0xFF  # inside the signature
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(px.CsrRefused) as refused:
        px.check_csr(tampered.decode(), "CP-1")
    assert refused.value.reason == "InvalidCSR"


def _issuer_key_hash(issuer: x509.Certificate) -> str:
    """RFC 6960 issuerKeyHash the long way: SHA-256 of the public key's bits, which for
    an uncompressed P-256 point are the X9.62 encoding of the point."""
    point = issuer.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return hashlib.sha256(point).hexdigest()


def test_hash_data_is_what_a_charger_computes(chain: tuple[px.Issued, px.Issued]) -> None:
    root, sub = chain
    data = px.hash_data(sub.cert, root.cert)
    assert data.issuer_name_hash == hashlib.sha256(root.cert.subject.public_bytes()).hexdigest()
    assert data.issuer_key_hash == _issuer_key_hash(root.cert)
    assert data.serial_number == format(sub.cert.serial_number, "x")
    assert data.to_ocpp()["hashAlgorithm"] == "SHA256"


@settings(max_examples=25, deadline=None)
@given(common_name=st.text(min_size=1, max_size=48).filter(lambda s: s.strip() == s and s))
def test_only_the_chargers_own_id_is_signed(common_name: str) -> None:
    try:
        pem = csr(common_name)
    except ValueError:  # a name x509 cannot hold
        return
    px.check_csr(pem, common_name)  # its own: fine
    with pytest.raises(px.CsrRefused):
        px.check_csr(pem, common_name + "x")
