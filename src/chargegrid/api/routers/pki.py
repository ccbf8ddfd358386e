"""The built-in CA through the API (docs/security.md): the root chargers and installers
must trust, and the certificate actions on a connected charger.

``GET /pki/root.pem`` answers any valid token: the root is public by nature, but the
API is not. The actions are technicians' (they change what a charger trusts).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Request, Response
from pydantic import Field

from chargegrid.api.deps import Ctx
from chargegrid.api.routers.actions import PATH, ChargerAnswer, _send
from chargegrid.api.routers.common import make_router
from chargegrid.api.schemas.common import WriteModel
from chargegrid.domain.errors import NotFound
from chargegrid.services import charger_commands as cmd
from chargegrid.services.certificates import root_pem
from chargegrid.store.pki_store import SqlPkiStore

router = make_router("pki")
PEM_TYPE = "application/x-pem-file"

CertificateType = Literal[
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
    "V2GRootCertificate",
    "MORootCertificate",
]
Hex = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[0-9a-fA-F]+$")]


class InstallCertificate(WriteModel):
    certificate_type: CertificateType = "CSMSRootCertificate"
    certificate: str | None = Field(
        None,
        max_length=5500,
        description="PEM; omitted: our CA's root (what a profile-2/3 charger must trust)",
    )


class GetInstalledCertificateIds(WriteModel):
    certificate_types: list[CertificateType] = Field(
        default_factory=list, max_length=4, description="none: every type (OCPP 1.6: one)"
    )


class CertificateHashData(WriteModel):
    hash_algorithm: Literal["SHA256", "SHA384", "SHA512"] = "SHA256"
    issuer_name_hash: Hex
    issuer_key_hash: Hex
    serial_number: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9a-fA-F]+$")]


class DeleteCertificate(WriteModel):
    certificate_hash_data: CertificateHashData


def _store(request: Request) -> SqlPkiStore:
    return SqlPkiStore(request.app.state.db.engine)


@router.get(
    "/pki/root.pem",
    response_class=Response,
    responses={200: {"content": {PEM_TYPE: {"schema": {"type": "string"}}}}},
)
async def get_root(request: Request, ctx: Ctx) -> Response:
    """The CA's root certificate, PEM: install it on chargers (or let
    install-certificate do it) so they can verify our wss certificate."""
    pem = await root_pem(_store(request))
    if pem is None:
        raise NotFound("no CA here yet: run `chargegrid ca init --hostname HOST`")
    return Response(pem, media_type=PEM_TYPE)


@router.post(f"{PATH}/install-certificate")
async def install_certificate(
    charger_id: uuid.UUID, body: InstallCertificate, request: Request, ctx: Ctx
) -> ChargerAnswer:
    pem = body.certificate
    if pem is None:
        pem = await root_pem(_store(request))
        if pem is None:
            raise NotFound("no CA here yet to install: give a certificate")
    command = cmd.InstallCertificate(body.certificate_type, pem)
    return await _send(request, ctx, charger_id, command, technical="certificates")


@router.post(f"{PATH}/get-installed-certificate-ids")
async def get_installed_certificate_ids(
    charger_id: uuid.UUID, body: GetInstalledCertificateIds, request: Request, ctx: Ctx
) -> ChargerAnswer:
    command = cmd.GetInstalledCertificateIds(tuple(body.certificate_types))
    return await _send(request, ctx, charger_id, command, technical="certificates")


@router.post(f"{PATH}/delete-certificate")
async def delete_certificate(
    charger_id: uuid.UUID, body: DeleteCertificate, request: Request, ctx: Ctx
) -> ChargerAnswer:
    data = body.certificate_hash_data
    hash_data = {
        "hashAlgorithm": data.hash_algorithm,
        "issuerNameHash": data.issuer_name_hash.lower(),
        "issuerKeyHash": data.issuer_key_hash.lower(),
        "serialNumber": data.serial_number.lower(),
    }
    command = cmd.DeleteCertificate(hash_data)
    return await _send(request, ctx, charger_id, command, technical="certificates")


@router.post(f"{PATH}/renew-certificate")
async def renew_certificate(charger_id: uuid.UUID, request: Request, ctx: Ctx) -> ChargerAnswer:
    """Ask the charger for a new CSR now (1.6 ExtendedTriggerMessage, 2.0.1 TriggerMessage
    SignChargingStationCertificate); the CA signs what it sends."""
    command = cmd.TriggerCertificateRenewal()
    return await _send(request, ctx, charger_id, command, technical="certificates")
