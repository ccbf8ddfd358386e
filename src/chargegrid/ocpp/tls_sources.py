"""Where the wss listener's certificates come from: the operator's files
(``--tls-cert/--tls-key/--tls-client-ca``), the built-in CA in the database
(``chargegrid ca init``), or both (the operator's server certificate, and profile-3
chargers whose certificates either CA signed)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from pathlib import Path

from chargegrid.ocpp.tls import TlsFiles, TlsMaterial
from chargegrid.services.pki_ports import CSMS_CA, ROOT, SERVER, PkiStore


class NoTlsMaterial(RuntimeError):
    pass


class CaAndFiles:
    """A ``TlsSource``: the files where given, else the CA's server certificate; the
    client CAs of both."""

    def __init__(self, pki: PkiStore | None, files: TlsFiles | None) -> None:
        self.pki = pki
        self.files = files

    async def stamp(self) -> Hashable:
        files = await self.files.stamp() if self.files else None
        materials = await self.pki.materials() if self.pki else {}
        return files, tuple(sorted((role, m.version) for role, m in materials.items()))

    async def load(self) -> TlsMaterial:
        materials = await self.pki.materials() if self.pki else {}
        ca_chain = "".join(materials[r].cert_pem for r in (CSMS_CA, ROOT) if r in materials)
        if self.files is not None:
            own = await self.files.load()
            client_ca = (own.client_ca or "") + ca_chain
            return TlsMaterial(own.cert_chain, own.key, client_ca or None)
        server = materials.get(SERVER)
        if server is None or server.key_pem is None or CSMS_CA not in materials:
            raise NoTlsMaterial(
                "wss needs a certificate: run `chargegrid ca init --hostname HOST` "
                "or give --tls-cert and --tls-key"
            )
        # The chain a charger must see: our certificate, then the sub-CA that signed it
        # (chargers trust the root, installed as CSMSRootCertificate / on the bench).
        return TlsMaterial(server.cert_pem + materials[CSMS_CA].cert_pem, server.key_pem, ca_chain)


async def client_ca_pem(pki: PkiStore | None, client_ca: Path | None) -> str:
    """Every CA a charger's certificate may chain to: ``--tls-client-ca`` and the built-in
    CA's sub-CA and root (what a TLS-terminating proxy's forwarded certificate is checked
    against, like a direct one)."""
    own = await asyncio.to_thread(client_ca.read_text) if client_ca else ""
    materials = await pki.materials() if pki else {}
    return own + "".join(materials[r].cert_pem for r in (CSMS_CA, ROOT) if r in materials)
