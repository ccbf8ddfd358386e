"""TLS for the OCPP endpoint (``wss://``): security profiles 2 and 3.

The server context follows what the OCPP security profiles ask of a CSMS (1.6 Security
Whitepaper, 2.0.1 part A): TLS 1.2 or newer, and on TLS 1.2 only the ECDHE suites with
AES-GCM (TLS 1.3 suites are all AEAD). A client certificate is asked for but not
required at the TLS level: a profile-3 charger must present one that chains to the
configured CA, and the handshake checks that its subject's CN is the charger's id; a
profile-2 charger authenticates with HTTP Basic inside the tunnel instead.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# OCPP 1.6 Security Whitepaper 3.1 / 2.0.1 A00.FR.318: what a CSMS must support.
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
    )
)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path  # the server's certificate chain (PEM)
    key: Path  # its private key (PEM)
    client_ca: Path | None = None  # CA(s) a profile-3 charger's certificate chains to


def server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.load_cert_chain(files.cert, files.key)
    if files.client_ca is not None:
        context.load_verify_locations(files.client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def peer_common_name(transport: Any) -> str | None:
    """The verified client certificate's subject CN on a TLS connection, else None."""
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def is_tls(transport: Any) -> bool:
    return transport is not None and transport.get_extra_info("ssl_object") is not None
