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
from chargegrid.services.configure.chargers import get_charger
from chargegrid.store.pki_store import SqlPkiStore

router = make_router("pki", commands_chargers=True)
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
    summary="Download the CA's root certificate",
)
async def get_root(request: Request, ctx: Ctx) -> Response:
    """The CA's root certificate, PEM (`application/x-pem-file`): install it on
    chargers (or let `actions/install-certificate` do it) so they can verify our wss
    certificate. The root's key never leaves `chargegrid ca init`'s directory.

    Roles: viewer, owner, service, admin (any valid token: the root is public, the API
    is not)

    404 when this server has no CA yet (`chargegrid ca init --hostname HOST`).
    """
    pem = await root_pem(_store(request))
    if pem is None:
        raise NotFound("no CA here yet: run `chargegrid ca init --hostname HOST`")
    return Response(pem, media_type=PEM_TYPE)


@router.post(f"{PATH}/install-certificate", summary="Install a root certificate on a charger")
async def install_certificate(
    charger_id: uuid.UUID, body: InstallCertificate, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Sends a root certificate for the charger to trust (InstallCertificate, 1.6
    security extension and 2.0.1): `certificate` (PEM) of `certificate_type`, or,
    without it, our CA's root, which a charger needs before it connects over wss.

    Roles: service, admin

    403 for owner and viewer. 404 when no certificate is given and this server has no
    CA. 422 for a certificate type the charger's version does not hold. 409 when the
    charger is offline, 504 when it does not answer within 30 s, 502 on a CallError.
    """
    # Who may, before whether there is a CA (a viewer learns nothing about the PKI).
    await get_charger(ctx, charger_id)
    ctx.who.require_write()
    ctx.who.require_technical("certificates")
    pem = body.certificate
    if pem is None:
        pem = await root_pem(_store(request))
        if pem is None:
            raise NotFound("no CA here yet to install: give a certificate")
    command = cmd.InstallCertificate(body.certificate_type, pem)
    return await _send(request, ctx, charger_id, command, technical="certificates")


@router.post(
    f"{PATH}/get-installed-certificate-ids", summary="List the certificates a charger trusts"
)
async def get_installed_certificate_ids(
    charger_id: uuid.UUID, body: GetInstalledCertificateIds, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """The hash data of the root certificates installed on the charger, of the
    `certificate_types` asked for (none: every type; OCPP 1.6 asks for one type per
    request). Use a hash to `delete-certificate`.

    Roles: service, admin

    403 for owner and viewer. 422 for more than one type on 1.6. 409 when the charger
    is offline, 504 when it does not answer within 30 s, 502 on a CallError.
    """
    command = cmd.GetInstalledCertificateIds(tuple(body.certificate_types))
    return await _send(request, ctx, charger_id, command, technical="certificates")


@router.post(f"{PATH}/delete-certificate", summary="Delete a certificate from a charger")
async def delete_certificate(
    charger_id: uuid.UUID, body: DeleteCertificate, request: Request, ctx: Ctx
) -> ChargerAnswer:
    """Removes one installed certificate, named by its `certificate_hash_data` (as
    `get-installed-certificate-ids` answers it; hex, any case). A charger that no longer
    trusts our root cannot reconnect over wss.

    Roles: service, admin

    403 for owner and viewer. 422 names each bad field. 409 when the charger is offline, 504 when it
    does not answer within 30 s, 502 on a CallError.
    """
    data = body.certificate_hash_data
    hash_data = {
        "hashAlgorithm": data.hash_algorithm,
        "issuerNameHash": data.issuer_name_hash.lower(),
        "issuerKeyHash": data.issuer_key_hash.lower(),
        "serialNumber": data.serial_number.lower(),
    }
    command = cmd.DeleteCertificate(hash_data)
    return await _send(request, ctx, charger_id, command, technical="certificates")


@router.post(f"{PATH}/renew-certificate", summary="Ask a charger to renew its certificate")
async def renew_certificate(charger_id: uuid.UUID, request: Request, ctx: Ctx) -> ChargerAnswer:
    """Asks the charger for a new CSR now (1.6 ExtendedTriggerMessage, 2.0.1
    TriggerMessage SignChargingStationCertificate); our CA signs what it sends and
    returns it in CertificateSigned (the charger's `certificate` shows it). Renewals
    are otherwise asked for 30 days before expiry. No body.

    Roles: service, admin

    403 for owner and viewer. 409 when the charger is offline, 504 when it
    does not answer within 30 s, 502 on a CallError.
    """
    command = cmd.TriggerCertificateRenewal()
    return await _send(request, ctx, charger_id, command, technical="certificates")
