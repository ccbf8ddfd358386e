"""Identifiers from outside: eMI3 EVSE ids and OCPP charge point ids."""

from __future__ import annotations

import re

from chargegrid.domain.errors import InvalidValue

EVSE_ID_MAX = 48
# eMI3: <country 2>[*]<operator 3>[*]E<1-30 alnum/*>, e.g. BE*BEC*E041503001.
_EMI3 = re.compile(r"^[A-Z]{2}\*?[A-Z0-9]{3}\*?E[A-Z0-9*]{1,30}$", re.IGNORECASE)
# What we store: printable, no spaces, the separators seen in the field (Spirii: DK.12343*1).
_LENIENT = re.compile(r"^[A-Za-z0-9*._:#/\-]+$")
# OCPP 1.6 identity in the URL: CiString(20) by custom, up to 48 in 2.0.1; no slash.
_OCPP_ID = re.compile(r"^[A-Za-z0-9*._:\-]{1,48}$")
_DOT_SEGMENTS = frozenset({".", ".."})


def is_emi3(evse_id: str) -> bool:
    return bool(_EMI3.match(evse_id))


def check_evse_id(evse_id: str, field_name: str = "evse_id") -> str:
    """Accept eMI3 ids and the non-eMI3 ids operators actually use, ≤ 48 characters."""
    if not evse_id:
        raise InvalidValue.of(field_name, "must not be empty")
    if len(evse_id) > EVSE_ID_MAX:
        raise InvalidValue.of(field_name, f"at most {EVSE_ID_MAX} characters")
    if not _LENIENT.fullmatch(evse_id):
        raise InvalidValue.of(
            field_name, "letters, digits and * . _ : # / - only (e.g. DE*ABC*E1234)"
        )
    return evse_id


def check_ocpp_id(ocpp_id: str, field_name: str = "ocpp_id") -> str:
    """The charger's identity as the last segment of ``ws://HOST/ocpp/{ocpp_id}``.

    The API (on write) and the OCPP handshake (on connect) both check with this, so an
    id the API stores is one a charger can connect with, and no other. ``.`` and ``..``
    are refused although their characters are allowed: as a path segment they mean "this"
    and "the parent" (RFC 3986 dot-segments), which clients and proxies normalise away.
    """
    if not _OCPP_ID.fullmatch(ocpp_id or ""):
        raise InvalidValue.of(
            field_name, "1-48 characters: letters, digits and * . _ : - (it is part of a URL)"
        )
    if ocpp_id in _DOT_SEGMENTS:
        raise InvalidValue.of(field_name, "'.' and '..' are not ids (they are URL dot-segments)")
    return ocpp_id
