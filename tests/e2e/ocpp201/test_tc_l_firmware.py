"""OCPP 2.0.1 Part 6 CSMS conformance, block L (Firmware management).

UpdateFirmware, PublishFirmware and UnpublishFirmware go as ``Native`` commands (the
operator's); the station's FirmwareStatusNotification / PublishFirmwareStatusNotification
are stored as they came. Not applicable here: none (the signing certificate in
UpdateFirmware is the operator's data; the CSMS does not check it).
"""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v201 import call

from chargegrid.services.charger_commands import Native
from tests.e2e.conftest import Csms
from tests.e2e.ocpp201.notices import notices
from tests.e2e.ocpp201.station import Station, Transaction, booted, now_iso

pytestmark = pytest.mark.e2e

FIRMWARE = {
    "location": "https://firmware.example.net/wallbox-2.1.bin",
    "retrieveDateTime": "2030-01-01T00:00:00Z",
    "signingCertificate": "-----BEGIN CERTIFICATE-----MIIB-----END CERTIFICATE-----",
    "signature": "c2lnbmF0dXJl",
}


@pytest.fixture
async def station(csms: Csms) -> Any:
    await csms.add_id_tag("TAG-L")
    async with booted(csms) as station:
        yield station


async def _update(
    csms: Csms, station: Station, statuses: list[str], answer: str = "Accepted", request_id: int = 1
) -> None:
    station.answers["UpdateFirmware"] = {"status": answer}
    told = await station.command(
        csms,
        Native("UpdateFirmware", {"requestId": request_id, "retries": 1, "firmware": FIRMWARE}),
    )
    assert told == {"status": answer}
    sent = station.received.of("UpdateFirmware")[-1]
    assert sent["request_id"] == request_id
    assert sent["firmware"]["location"] == FIRMWARE["location"]
    assert sent["firmware"]["signing_certificate"] == FIRMWARE["signingCertificate"]
    for status in statuses:
        assert (
            await station.call(
                call.FirmwareStatusNotification(status=status, request_id=request_id)
            )
            is not None
        )
    if statuses:
        stored = await notices(csms, "FirmwareStatusNotification", len(statuses))
        mine = [n["status"] for n in stored if n["requestId"] == request_id]
        assert mine == statuses


async def test_tc_l_01_firmware_update_installed(csms: Csms, station: Station) -> None:
    await _update(
        csms,
        station,
        ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"],
    )
    await station.boot("FirmwareUpdate")
    await station.call(call.FirmwareStatusNotification(status="Installed", request_id=1))
    assert (await notices(csms, "FirmwareStatusNotification", 6))[-1]["status"] == "Installed"


async def test_tc_l_02_firmware_update_install_scheduled(csms: Csms, station: Station) -> None:
    await _update(
        csms, station, ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"]
    )


async def test_tc_l_03_firmware_update_download_scheduled(csms: Csms, station: Station) -> None:
    await _update(csms, station, ["DownloadScheduled"])


async def test_tc_l_04_firmware_update_revoked_certificate(csms: Csms, station: Station) -> None:
    await _update(csms, station, [], answer="RevokedCertificate")


async def test_tc_l_05_firmware_update_invalid_certificate(csms: Csms, station: Station) -> None:
    await _update(csms, station, [], answer="InvalidCertificate")
    # The station tells its security log too.
    await station.call(
        call.SecurityEventNotification(
            type="InvalidFirmwareSigningCertificate", timestamp=now_iso()
        )
    )
    (event,) = await notices(csms, "SecurityEventNotification")
    assert event["type"] == "InvalidFirmwareSigningCertificate"


async def test_tc_l_06_firmware_update_invalid_signature(csms: Csms, station: Station) -> None:
    await _update(csms, station, ["Downloading", "Downloaded", "InvalidSignature"])


async def test_tc_l_07_firmware_update_download_failed(csms: Csms, station: Station) -> None:
    await _update(csms, station, ["Downloading", "DownloadFailed"])


async def test_tc_l_08_firmware_update_install_verification_failed(
    csms: Csms, station: Station
) -> None:
    await _update(
        csms,
        station,
        ["Downloading", "Downloaded", "SignatureVerified", "InstallVerificationFailed"],
    )


async def test_tc_l_09_firmware_update_installation_failed(csms: Csms, station: Station) -> None:
    await _update(
        csms,
        station,
        ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallationFailed"],
    )


async def test_tc_l_10_firmware_update_accepted_canceled(csms: Csms, station: Station) -> None:
    await _update(csms, station, ["Downloading"], request_id=1)
    await _update(csms, station, ["Downloading"], answer="AcceptedCanceled", request_id=2)
    assert [u["request_id"] for u in station.received.of("UpdateFirmware")] == [1, 2]


async def test_tc_l_11_firmware_update_unable_to_cancel(csms: Csms, station: Station) -> None:
    await _update(csms, station, ["Installing"], request_id=1)
    await _update(csms, station, [], answer="Rejected", request_id=2)


async def test_tc_l_13_firmware_update_with_transaction(csms: Csms, station: Station) -> None:
    tx = Transaction(station)
    await tx.start("TAG-L")
    await _update(
        csms, station, ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"]
    )
    await tx.end("Local", id_token="TAG-L")
    await station.call(call.FirmwareStatusNotification(status="Installing", request_id=1))
    assert (await notices(csms, "FirmwareStatusNotification", 5))[-1]["status"] == "Installing"


# -- publish (a local controller) ---------------------------------------------------


async def _publish(csms: Csms, station: Station, statuses: list[str]) -> None:
    told = await station.command(
        csms,
        Native(
            "PublishFirmware",
            {"location": FIRMWARE["location"], "checksum": "0" * 32, "requestId": 17},
        ),
    )
    assert told == {"status": "Accepted"}
    assert station.received.of("PublishFirmware")[0]["checksum"] == "0" * 32
    for status in statuses:
        extra = {"location": ["http://lc.local/fw.bin"]} if status == "Published" else {}
        await station.call(
            call.PublishFirmwareStatusNotification(status=status, request_id=17, **extra)
        )
    stored = await notices(csms, "PublishFirmwareStatusNotification", len(statuses))
    assert [n["status"] for n in stored] == statuses


async def test_tc_l_17_publish_firmware_published(csms: Csms, station: Station) -> None:
    await _publish(csms, station, ["Downloading", "Downloaded", "Published"])


async def test_tc_l_19_publish_firmware_invalid_checksum(csms: Csms, station: Station) -> None:
    await _publish(csms, station, ["Downloading", "Downloaded", "InvalidChecksum"])


async def test_tc_l_20_publish_firmware_publish_failed(csms: Csms, station: Station) -> None:
    await _publish(csms, station, ["Downloading", "Downloaded", "PublishFailed"])


async def test_tc_l_24_publish_firmware_download_failed(csms: Csms, station: Station) -> None:
    await _publish(csms, station, ["Downloading", "DownloadFailed"])


async def _unpublish(csms: Csms, station: Station, answer: str) -> None:
    station.answers["UnpublishFirmware"] = {"status": answer}
    told = await station.command(csms, Native("UnpublishFirmware", {"checksum": "0" * 32}))
    assert told == {"status": answer}
    assert station.received.of("UnpublishFirmware") == [{"checksum": "0" * 32}]


async def test_tc_l_21_unpublish_firmware_unpublished(csms: Csms, station: Station) -> None:
    await _unpublish(csms, station, "Unpublished")


async def test_tc_l_22_unpublish_firmware_no_firmware(csms: Csms, station: Station) -> None:
    await _unpublish(csms, station, "NoFirmware")


async def test_tc_l_23_unpublish_firmware_download_ongoing(csms: Csms, station: Station) -> None:
    await _unpublish(csms, station, "DownloadOngoing")
