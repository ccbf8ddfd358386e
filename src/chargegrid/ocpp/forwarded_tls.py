"""TLS terminated by a proxy in front of the OCPP endpoint (nginx, haproxy, envoy).

The proxy speaks TLS with the charger and plain ws with us, and says what it saw in
headers: ``X-Forwarded-Proto: https`` (the charger used TLS) and the charger's client
certificate in ``X-SSL-Client-Cert`` (nginx ``$ssl_client_escaped_cert``: URL-encoded
PEM; haproxy ``%[ssl_c_der,base64]``: base64 DER) or ``X-Forwarded-Client-Cert``
(envoy's ``Cert="<URL-encoded PEM>"`` element, or either form above).

Those headers are believed only from a peer address in ``trusted_proxies``: anyone
else could write them. From a trusted proxy the certificate is checked here as the TLS
layer would check a direct one (issued by a certificate of the client CA file, within
its validity, the CA a CA); its CN is then compared with the charger's id by the
handshake like a direct profile-3 certificate's. docs/security.md has the recipes.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from websockets.datastructures import Headers

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTO_HEADER = "X-Forwarded-Proto"
CERT_HEADERS = ("X-SSL-Client-Cert", "X-Forwarded-Client-Cert")
FORWARDING_HEADERS = (PROTO_HEADER, *CERT_HEADERS)
_PEM_BODY = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)
_XFCC_CERT = re.compile(r'(?:^|;)\s*Cert="([^"]*)"', re.IGNORECASE)
MAX_HEADER = 16_384  # a certificate chain in PEM is a few KB


def parse_networks(cidrs: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``10.0.0.0/8``, ``192.0.2.7`` or ``::1``; ValueError naming a bad one."""
    networks = []
    for text in cidrs:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted proxy {text!r}: not an IP address or CIDR") from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class Forwarded:
    """What a handshake's forwarding headers say, once judged."""

    trusted: bool  # the peer is a trusted proxy
    tls: bool = False  # ... and says the charger spoke TLS to it
    common_name: str | None = None  # a verified forwarded certificate's subject CN
    certificate_error: str | None = None  # a forwarded certificate that failed
    ignored: tuple[str, ...] = ()  # forwarding headers from an untrusted peer


NOT_FORWARDED = Forwarded(trusted=False)


class ForwardedTls:
    def __init__(
        self, trusted: Sequence[IpNetwork], client_cas: Sequence[x509.Certificate] = ()
    ) -> None:
        self.trusted = tuple(trusted)
        self.client_cas = tuple(client_cas)

    @classmethod
    def from_settings(
        cls, trusted_proxies: Iterable[str], client_ca: str | None
    ) -> ForwardedTls | None:
        """None when no proxy is trusted (then every forwarding header is ignored)."""
        networks = parse_networks(trusted_proxies)
        if not networks:
            return None
        cas = x509.load_pem_x509_certificates(Path(client_ca).read_bytes()) if client_ca else []
        return cls(networks, cas)

    def is_trusted(self, peer: str | None) -> bool:
        if peer is None:
            return False
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)

    def judge(self, peer: str | None, headers: Headers, now: datetime | None = None) -> Forwarded:
        present = tuple(h for h in FORWARDING_HEADERS if h in headers)
        if not self.is_trusted(peer):
            return Forwarded(trusted=False, ignored=present)
        tls = headers.get(PROTO_HEADER, "").split(",", 1)[0].strip().lower() in {"https", "wss"}
        raw = next((headers[h] for h in CERT_HEADERS if headers.get(h)), None)
        if raw is None:
            return Forwarded(trusted=True, tls=tls)
        try:
            cert = parse_forwarded_certificate(raw)
            self.verify(cert, now or datetime.now(UTC))
        except ValueError as exc:
            return Forwarded(trusted=True, tls=tls, certificate_error=str(exc))
        return Forwarded(trusted=True, tls=tls, common_name=common_name(cert))

    def verify(self, cert: x509.Certificate, now: datetime) -> None:
        """ValueError unless ``cert`` is valid now and issued by one of the client CAs
        (itself a valid CA): what the TLS layer checks of a direct one."""
        if not self.client_cas:
            raise ValueError("no client CA configured (--tls-client-ca) to verify it against")
        _check_validity(cert, now, "the certificate")
        _check_client_usage(cert)
        for ca in self.client_cas:
            if ca.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if not _is_ca(ca):
                continue
            _check_validity(ca, now, "its CA")
            return
        raise ValueError("not issued by the configured client CA")


def parse_forwarded_certificate(raw: str) -> x509.Certificate:
    """The first certificate in a forwarding header (forms in the module docstring)."""
    if len(raw) > MAX_HEADER:
        raise ValueError("the forwarded certificate header is too long")
    value = raw.strip()
    envoy = _XFCC_CERT.search(value)
    if envoy is not None:
        value = envoy.group(1)
    if "%" in value:
        value = unquote(value)
    pem = _PEM_BODY.search(value)
    # nginx's older $ssl_client_cert folds lines with tabs: only the base64 matters.
    body = pem.group(1) if pem is not None else value
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise ValueError("the forwarded certificate is not PEM or base64 DER") from None


def common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _check_validity(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise ValueError(f"{what} is not valid yet")
    if now > cert.not_valid_after_utc:
        raise ValueError(f"{what} has expired")


def _check_client_usage(cert: x509.Certificate) -> None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return  # no restriction
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usage:
        raise ValueError("the certificate is not for client authentication")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
