"""Certificates for the OCPP security profiles, made and read with ``cryptography``.

A root signs one CSMS sub-CA; the sub-CA signs the server's certificate and the
chargers' (OCPP 2.0.1 A00: the CSO's chain; 1.6 Security Whitepaper §4). Everything
here is in memory (PEM in, PEM out); where it is kept is the store's business.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

ROOT_DAYS = 20 * 365
SUB_CA_DAYS = 10 * 365
SERVER_DAYS = 365
CHARGER_DAYS = 365
# What the OCPP profiles accept for a key (2.0.1 A00.FR.306/307; 1.6 whitepaper §3.1).
RSA_MIN_BITS = 2048
EC_MIN_BITS = 224
# A clock a little behind ours must not find a certificate from the future.
BACKDATE = dt.timedelta(minutes=5)


class CsrRefused(ValueError):
    """A charger's CSR we will not sign; ``reason`` fits OCPP's 20-character reasonCode
    field and ``detail`` says why for the log and the API."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Issued:
    cert: x509.Certificate
    key: PrivateKey | None = None  # None when the holder made its own key (a CSR)

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str | None:
        return None if self.key is None else key_pem(self.key)


@dataclass(frozen=True, slots=True)
class Summary:
    """What the API shows of a certificate."""

    subject: str
    serial: str  # hex, as OCPP's CertificateHashData writes serial numbers
    not_before: dt.datetime
    not_after: dt.datetime
    issuer: str


@dataclass(frozen=True, slots=True)
class HashData:
    """OCPP CertificateHashDataType: how a charger names a certificate it holds."""

    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    hash_algorithm: str = "SHA256"

    def to_ocpp(self) -> dict[str, str]:
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }


def new_key(key_type: KeyType = "ec") -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_MIN_BITS)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_key(pem: str | bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(_bytes(pem), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("only RSA and EC keys are used for OCPP")
    return key


def load_cert(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(_bytes(pem))


def load_chain(pem: str | bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(_bytes(pem))


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    days: int,
    now: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _sign(builder: x509.CertificateBuilder, key: PrivateKey) -> x509.Certificate:
    return builder.sign(key, hashes.SHA256())


def _ca_extensions(
    builder: x509.CertificateBuilder, path_length: int | None
) -> x509.CertificateBuilder:
    return builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=path_length), critical=True
    ).add_extension(
        x509.KeyUsage(
            digital_signature=True,
            key_cert_sign=True,
            crl_sign=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )


def _leaf_usage(key: PrivateKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> x509.KeyUsage:
    is_rsa = isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey)
    return x509.KeyUsage(
        digital_signature=True,
        key_encipherment=is_rsa,
        key_agreement=not is_rsa,
        content_commitment=False,
        data_encipherment=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def make_root(
    common_name: str,
    organization: str | None = None,
    key_type: KeyType = "ec",
    now: dt.datetime | None = None,
) -> Issued:
    now = now or dt.datetime.now(dt.UTC)
    key = new_key(key_type)
    name = _name(common_name, organization)
    builder = _ca_extensions(_builder(name, name, key.public_key(), ROOT_DAYS, now), None)
    return Issued(_sign(builder, key), key)


def make_sub_ca(
    root: Issued,
    common_name: str,
    organization: str | None = None,
    key_type: KeyType = "ec",
    now: dt.datetime | None = None,
) -> Issued:
    if root.key is None:
        raise ValueError("the root's private key is needed to make a sub-CA")
    now = now or dt.datetime.now(dt.UTC)
    key = new_key(key_type)
    builder = _builder(
        _name(common_name, organization), root.cert.subject, key.public_key(), SUB_CA_DAYS, now
    )
    builder = _ca_extensions(builder, 0).add_extension(_authority_key_id(root.cert), critical=False)
    return Issued(_sign(builder, root.key), key)


def _san(hostnames: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue_server(
    ca: Issued,
    hostnames: Sequence[str],
    key_type: KeyType = "ec",
    days: int = SERVER_DAYS,
    now: dt.datetime | None = None,
) -> Issued:
    """The CSMS's TLS certificate: its names are the hosts chargers dial (SAN; the
    CN repeats the first, as older charger TLS stacks still read the CN)."""
    if ca.key is None:
        raise ValueError("the sub-CA's private key is needed to issue a certificate")
    if not hostnames:
        raise ValueError("at least one hostname")
    now = now or dt.datetime.now(dt.UTC)
    key = new_key(key_type)
    builder = (
        _builder(_name(hostnames[0]), ca.cert.subject, key.public_key(), days, now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(hostnames), critical=False)
        .add_extension(_authority_key_id(ca.cert), critical=False)
    )
    return Issued(_sign(builder, ca.key), key)


def check_csr(pem: str, expected_cn: str) -> x509.CertificateSigningRequest:
    """The charger's CSR if we may sign it: well formed, signed by the key it carries,
    a key the profiles accept, and its subject's CN the charger's own id (2.0.1
    A02.FR.04 / 1.6 whitepaper: the CSMS checks the CN it signs)."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise CsrRefused("InvalidCSR", f"not a PEM certificate signing request: {exc}") from None
    try:
        valid = csr.is_signature_valid
    except (InvalidSignature, ValueError):
        valid = False
    if not valid:
        raise CsrRefused("InvalidCSR", "the CSR's signature does not match its key")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < RSA_MIN_BITS:
            raise CsrRefused("InvalidKey", f"RSA key of {key.key_size} bits (< {RSA_MIN_BITS})")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < EC_MIN_BITS:
            raise CsrRefused("InvalidKey", f"EC key of {key.curve.key_size} bits (< {EC_MIN_BITS})")
    else:
        raise CsrRefused("InvalidKey", "only RSA and EC keys are accepted")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else None
    if common_name != expected_cn:
        raise CsrRefused(
            "InvalidCN",
            f"the CSR's common name is {common_name!r}, the charger's id is {expected_cn!r}",
        )
    return csr


def sign_charger_csr(
    ca: Issued,
    csr: x509.CertificateSigningRequest,
    days: int = CHARGER_DAYS,
    now: dt.datetime | None = None,
) -> Issued:
    """A client certificate for the charger (profile 3), with the CSR's subject."""
    if ca.key is None:
        raise ValueError("the sub-CA's private key is needed to sign")
    now = now or dt.datetime.now(dt.UTC)
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise CsrRefused("InvalidKey", "only RSA and EC keys are accepted")
    builder = (
        _builder(csr.subject, ca.cert.subject, public_key, days, now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(public_key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_authority_key_id(ca.cert), critical=False)
    )
    return Issued(_sign(builder, ca.key))


def summary(cert: x509.Certificate) -> Summary:
    return Summary(
        subject=cert.subject.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer=cert.issuer.rfc4514_string(),
    )


def hash_data(cert: x509.Certificate, issuer: x509.Certificate) -> HashData:
    """How a charger names ``cert`` in Get/DeleteCertificate: OCPP takes RFC 6960's
    CertID (SHA-256 of the issuer's name and key, the serial), so an OCSP request
    computes it."""
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return HashData(
        issuer_name_hash=request.issuer_name_hash.hex(),
        issuer_key_hash=request.issuer_key_hash.hex(),
        serial_number=format(request.serial_number, "x"),
    )


def chain_pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def expires_within(cert: x509.Certificate, days: float, now: dt.datetime) -> bool:
    return cert.not_valid_after_utc - now <= dt.timedelta(days=days)


def _bytes(pem: str | bytes) -> bytes:
    return pem.encode() if isinstance(pem, str) else pem
