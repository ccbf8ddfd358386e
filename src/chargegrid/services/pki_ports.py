"""What the built-in CA needs from storage, as plain types (``store.pki_store`` is the
SQL one). The database owns every certificate and key: the running server reads them
from there (and notices a change by ``version``), the CLI writes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

ROOT = "root"  # the root certificate (its key stays with the operator)
CSMS_CA = "csms_ca"  # the sub-CA that signs the server's and the chargers' certificates
SERVER = "server"  # the wss certificate and its key


@dataclass(frozen=True, slots=True)
class Material:
    role: str
    cert_pem: str
    key_pem: str | None
    hostnames: tuple[str, ...]
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SignedCertificate:
    """A certificate the CA signed for a charger."""

    id: int
    charger_id: uuid.UUID
    certificate_type: str
    subject: str
    serial: str
    not_before: datetime
    not_after: datetime
    cert_pem: str
    created_at: datetime
    renewal_requested_at: datetime | None


@dataclass(frozen=True, slots=True)
class RenewalDue:
    certificate_id: int
    charger_id: uuid.UUID
    ocpp_id: str
    not_after: datetime


class PkiStore(Protocol):
    async def materials(self) -> dict[str, Material]: ...

    async def save_materials(
        self, items: Iterable[tuple[str, str, str | None, Sequence[str]]], at: datetime
    ) -> None:
        """(role, cert_pem, key_pem, hostnames) each, in one transaction; bumps versions."""
        ...

    async def record_signed(
        self,
        charger_id: uuid.UUID,
        certificate_type: str,
        subject: str,
        serial: str,
        not_before: datetime,
        not_after: datetime,
        cert_pem: str,
        at: datetime,
    ) -> SignedCertificate: ...

    async def latest_signed(
        self, charger_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, SignedCertificate]:
        """The last ChargingStationCertificate signed for each charger that has one."""
        ...

    async def renewals_due(
        self, expiring_before: datetime, asked_before: datetime
    ) -> list[RenewalDue]:
        """Chargers whose last certificate expires before ``expiring_before`` and that
        were not asked for a new CSR since ``asked_before``."""
        ...

    async def renewal_requested(self, certificate_id: int, at: datetime) -> None: ...
