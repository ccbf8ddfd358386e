from __future__ import annotations

import pytest

from chargegrid.domain.errors import InvalidValue
from chargegrid.domain.identifiers import check_evse_id, check_ocpp_id, is_emi3
from chargegrid.domain.status import OcpiStatus, charger_status, to_ocpi


@pytest.mark.parametrize(
    ("ocpp", "ocpi"),
    [
        ("Available", "AVAILABLE"),
        ("Reserved", "RESERVED"),
        ("Preparing", "CHARGING"),
        ("Charging", "CHARGING"),
        ("Finishing", "CHARGING"),
        ("SuspendedEV", "BLOCKED"),
        ("SuspendedEVSE", "BLOCKED"),
        ("Faulted", "OUTOFORDER"),
        ("Unavailable", "INOPERATIVE"),
    ],
)
def test_ocpp_to_ocpi(ocpp: str, ocpi: str) -> None:
    assert to_ocpi(ocpp) == OcpiStatus(ocpi)


def test_offline_is_unknown_whatever_the_last_status() -> None:
    assert to_ocpi("Charging", online=False) is OcpiStatus.UNKNOWN
    assert to_ocpi("NotAStatus") is OcpiStatus.UNKNOWN


@pytest.mark.parametrize("evse_id", ["DK.12343*1", "BE*BEC*E041503001", "DE*ABC*E1234", "x" * 48])
def test_evse_ids_accepted_leniently(evse_id: str) -> None:
    assert check_evse_id(evse_id) == evse_id


@pytest.mark.parametrize("evse_id", ["", "x" * 49, "has space", "a\nb"])
def test_bad_evse_ids(evse_id: str) -> None:
    with pytest.raises(InvalidValue):
        check_evse_id(evse_id)


def test_emi3_recognised() -> None:
    assert is_emi3("BE*BEC*E041503001")
    assert not is_emi3("DK.12343*1")


def test_ocpp_id_rejects_slash() -> None:
    with pytest.raises(InvalidValue):
        check_ocpp_id("a/b")
    assert check_ocpp_id("CP-001") == "CP-001"


@pytest.mark.parametrize(
    ("own", "evses", "whole"),
    [
        ("Unavailable", ["Available"], "Unavailable"),  # 1.6: connector 0 says it
        (None, [], None),  # nothing reported yet
        (None, [None, None], None),
        (None, ["Available", "Occupied"], "Available"),  # 2.0.1: from its EVSEs
        (None, ["Faulted", None], "Faulted"),
        (None, ["Faulted", "Available"], "Available"),  # one EVSE still serves
        (None, ["Unavailable", "Unavailable"], "Unavailable"),
        (None, ["Unavailable", "Faulted"], "Faulted"),  # none can serve
    ],
)
def test_a_chargers_status_as_a_whole(
    own: str | None, evses: list[str | None], whole: str | None
) -> None:
    assert charger_status(own, evses) == whole
