"""The built-in CA at work: creating it (``chargegrid ca init``), issuing the server's
certificate, signing chargers' CSRs and asking for renewals (docs/security.md).

The database owns the certificates and keys (``PkiStore``); nothing here keeps a copy,
so a certificate issued by the CLI is what the running server signs with next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chargegrid.domain.errors import Conflict, InvalidValue, NotFound
from chargegrid.pki import x509 as px
from chargegrid.services.charger_commands import (
    CertificateSigned,
    CommandGateway,
    TriggerCertificateRenewal,
)
from chargegrid.services.charger_ports import ChargerRecord
from chargegrid.services.pki_ports import CSMS_CA, ROOT, SERVER, Material, PkiStore

log = logging.getLogger(__name__)

STATION_CERTIFICATE = "ChargingStationCertificate"
V2G_CERTIFICATE = "V2GCertificate"
RENEW_BEFORE = timedelta(days=30)  # ask for a new CSR this long before expiry
RENEW_ASK_EVERY = timedelta(days=1)  # and again after this long without one
DELIVERY_TIMEOUT = 60.0


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NewCa:
    """A CA made by ``make_ca``, not stored yet."""

    root: px.Issued
    sub_ca: px.Issued
    server: px.Issued
    hostnames: tuple[str, ...]
    root_imported: bool


def make_ca(
    hostnames: Sequence[str],
    *,
    organization: str | None = None,
    key_type: px.KeyType = "ec",
    root_import: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> NewCa:
    """A root (or the operator's, imported: PEM certificate and key), a CSMS sub-CA
    under it, and the server's certificate for ``hostnames``."""
    now = now or _now()
    if not hostnames:
        raise InvalidValue.of("hostname", "at least one hostname chargers use to reach us")
    if root_import is None:
        root = px.make_root("chargegrid root CA", organization, key_type, now)
    else:
        cert_pem, key_pem = root_import
        root = px.Issued(px.load_cert(cert_pem), px.load_key(key_pem))
    sub = px.make_sub_ca(root, "chargegrid CSMS CA", organization, key_type, now)
    server = px.issue_server(sub, hostnames, key_type, now=now)
    return NewCa(root, sub, server, tuple(hostnames), root_import is not None)


def write_root(ca: NewCa, out_dir: Path) -> tuple[Path, Path | None]:
    """root.pem for chargers and installers, and (for a root we made) root-key.pem,
    readable by its owner only: the root's key never enters the database; it is needed
    again only to make a new sub-CA."""
    out_dir.mkdir(parents=True, exist_ok=True)
    root_path = out_dir / "root.pem"
    root_path.write_text(ca.root.cert_pem)
    if ca.root_imported or ca.root.key_pem is None:
        return root_path, None
    key_path = out_dir / "root-key.pem"
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.chmod(0o600)
    key_path.write_text(ca.root.key_pem)
    return root_path, key_path


async def store_ca(
    store: PkiStore, ca: NewCa, *, force: bool = False, now: datetime | None = None
) -> None:
    if CSMS_CA in await store.materials() and not force:
        raise Conflict(
            "a CA exists already; --force replaces it, and every charger certificate "
            "the old one signed stops verifying"
        )
    await store.save_materials(
        [
            (ROOT, ca.root.cert_pem, None, ()),
            (CSMS_CA, ca.sub_ca.cert_pem, ca.sub_ca.key_pem, ()),
            (SERVER, ca.server.cert_pem, ca.server.key_pem, ca.hostnames),
        ],
        now or _now(),
    )


async def issue_server_certificate(
    store: PkiStore,
    hostnames: Sequence[str] | None = None,
    key_type: px.KeyType = "ec",
    now: datetime | None = None,
) -> Material:
    """A new server certificate from the sub-CA (the old hostnames unless given); a
    running server picks it up without a restart."""
    now = now or _now()
    materials = await store.materials()
    ca = _signer(materials)
    names = tuple(hostnames or (materials[SERVER].hostnames if SERVER in materials else ()))
    if not names:
        raise InvalidValue.of("hostname", "at least one hostname chargers use to reach us")
    server = px.issue_server(ca, names, key_type, now=now)
    await store.save_materials([(SERVER, server.cert_pem, server.key_pem, names)], now)
    return (await store.materials())[SERVER]


async def renew_server_certificate(store: PkiStore, now: datetime | None = None) -> bool:
    """A new server certificate (same names) when the CA's expires within RENEW_BEFORE."""
    now = now or _now()
    server = (await store.materials()).get(SERVER)
    if server is None or not px.expires_within(
        px.load_cert(server.cert_pem), RENEW_BEFORE.days, now
    ):
        return False
    await issue_server_certificate(store, now=now)
    return True


def _signer(materials: dict[str, Material]) -> px.Issued:
    ca = materials.get(CSMS_CA)
    if ca is None or ca.key_pem is None:
        raise NotFound("no CA here yet: run `chargegrid ca init --hostname HOST`")
    return px.Issued(px.load_cert(ca.cert_pem), px.load_key(ca.key_pem))


async def root_pem(store: PkiStore) -> str | None:
    root = (await store.materials()).get(ROOT)
    return None if root is None else root.cert_pem


@dataclass(frozen=True, slots=True)
class CsrVerdict:
    """Our answer to a SignCertificate: ``reason`` (OCPP reasonCode) when rejected,
    else the chain to send back in CertificateSigned."""

    accepted: bool
    certificate_type: str
    reason: str | None = None
    detail: str | None = None
    chain: str | None = None


class ChargerCertificates:
    """Signs chargers' CSRs and asks them for new ones before theirs expire."""

    def __init__(
        self,
        store: PkiStore,
        gateway: CommandGateway,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.clock = clock

    async def review(
        self, charger: ChargerRecord, csr_pem: str, certificate_type: str
    ) -> CsrVerdict:
        """Check and sign (the certificate is recorded before the charger is told
        Accepted); a CSR we will not sign gets a reason instead."""
        if certificate_type == V2G_CERTIFICATE:
            # ISO 15118 certificates come from a V2G PKI, not from the CSMS's CA.
            return self._refused(charger, certificate_type, "NotSupported", "no V2G CA here")
        materials = await self.store.materials()
        try:
            ca = _signer(materials)
        except NotFound as exc:
            return self._refused(charger, certificate_type, "NoCA", str(exc))
        try:
            csr = px.check_csr(csr_pem, charger.ocpp_id)
            issued = px.sign_charger_csr(ca, csr, now=self.clock())
        except px.CsrRefused as exc:
            return self._refused(charger, certificate_type, exc.reason, exc.detail)
        info = px.summary(issued.cert)
        await self.store.record_signed(
            charger.id,
            certificate_type,
            info.subject,
            info.serial,
            info.not_before,
            info.not_after,
            issued.cert_pem,
            self.clock(),
        )
        log.info(
            "signed a certificate for %s (serial %s, until %s)",
            charger.ocpp_id,
            info.serial,
            info.not_after,
        )
        return CsrVerdict(True, certificate_type, chain=issued.cert_pem + ca.cert_pem)

    def _refused(
        self, charger: ChargerRecord, certificate_type: str, reason: str, detail: str
    ) -> CsrVerdict:
        log.warning("refused to sign a CSR from %s: %s", charger.ocpp_id, detail)
        return CsrVerdict(False, certificate_type, reason, detail)

    async def deliver(self, ocpp_id: str, verdict: CsrVerdict) -> None:
        """CertificateSigned, after the SignCertificate answer has left."""
        if not verdict.accepted or verdict.chain is None:
            return
        command = CertificateSigned(verdict.chain, verdict.certificate_type)
        try:
            answer = await self.gateway.command(ocpp_id, command, DELIVERY_TIMEOUT)
        except Exception as exc:  # offline, timeout, CallError: it will send a new CSR
            log.warning("CertificateSigned to %s failed: %s", ocpp_id, exc)
            return
        if answer.get("status") != "Accepted":
            log.warning("%s did not take its new certificate: %s", ocpp_id, dict(answer))

    async def ask_renewals(self) -> int:
        """TriggerMessage(SignChargingStationCertificate) to each connected charger whose
        certificate expires within RENEW_BEFORE (once a day until it sends a CSR)."""
        now = self.clock()
        due = await self.store.renewals_due(now + RENEW_BEFORE, now - RENEW_ASK_EVERY)
        asked = 0
        for item in due:
            try:
                answer = await self.gateway.command(
                    item.ocpp_id, TriggerCertificateRenewal(), DELIVERY_TIMEOUT
                )
            except Exception as exc:  # offline or refused: asked again tomorrow
                log.info("renewal trigger to %s failed: %s", item.ocpp_id, exc)
                continue
            await self.store.renewal_requested(item.certificate_id, now)
            asked += 1
            log.info(
                "asked %s for a new CSR (certificate until %s): %s",
                item.ocpp_id,
                item.not_after,
                answer.get("status"),
            )
        return asked
