"""Session history in the dashboard: filters, totals, the CSV download checked row by
row against the API, a filter the API refuses, and ending a session stuck open on a
charger that went away.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.browser.harness import ConsoleWatch, Server, sign_in, wait_for
from tests.browser.ocpp16_client import TinyCharger

pytestmark = pytest.mark.browser

STUCK_TAG = "UI-STUCK-TAG"


def api_get(server: Server, path: str, **params: Any) -> Any:
    with server.api() as api:
        return api.get(path, params=params).raise_for_status().json()


def demo_site(server: Server) -> dict[str, Any]:
    site: dict[str, Any] = api_get(server, "/sites")["data"][0]
    return site


def open_sessions(page: Page, server: Server) -> None:
    sign_in(page, server)
    page.get_by_role("link", name="Sessions", exact=True).click()
    expect(page.get_by_role("heading", name="Sessions", level=1)).to_be_visible()


def shown_total(page: Page) -> int:
    return int(page.locator('.totals [data-total="sessions"] dd').inner_text())


def test_csv_download_holds_the_filtered_sessions(page: Page, server: Server) -> None:
    site = demo_site(server)
    wait_for(
        lambda: api_get(server, "/sessions/summary", site_id=site["id"])["count"] >= 2,
        "the demo cars to have started two sessions",
        deadline_s=90,
    )
    open_sessions(page, server)
    page.get_by_label("Site").select_option(site["id"])
    page.get_by_role("button", name="Show").click()

    before = api_get(server, "/sessions/summary", site_id=site["id"])["count"]
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    after = api_get(server, "/sessions/summary", site_id=site["id"])["count"]
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    # Cars keep arriving: the file holds what there was between the two counts.
    assert before <= len(rows) <= after, (before, len(rows), after)
    assert {r["site_name"] for r in rows} == {site["name"]}
    for row in rows:
        session = api_get(server, f"/sessions/{row['session_id']}")
        assert row["id_tag"] == (session["id_tag"] or "")
        assert row["evse_number"] == str(session["evse_number"])
        started = datetime.fromisoformat(row["started_at"].replace("Z", "+00:00"))
        assert started == datetime.fromisoformat(session["started_at"]).astimezone(UTC)

    # The totals are the API's summary over the same filter.
    wait_for(lambda: shown_total(page) > 0, "the totals", page=page)
    assert before <= shown_total(page) <= after

    # Filtering by status and id tag narrows both the list and the totals.
    tag = rows[0]["id_tag"]
    page.get_by_label("Id tag").fill(tag)
    page.get_by_role("button", name="Show").click()
    expected = api_get(server, "/sessions/summary", site_id=site["id"], id_tag=tag)["count"]
    wait_for(lambda: shown_total(page) == expected, f"the totals for {tag}", page=page)
    tags = page.eval_on_selector_all(
        ".history tbody tr td:nth-child(6)", "cells => cells.map(c => c.textContent)"
    )
    assert tags and set(tags) == {tag}


def test_a_filter_the_api_refuses_is_explained_next_to_it(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    console.allow_http(422, "/sessions")
    open_sessions(page, server)
    page.get_by_label("Started from").fill("2026-03-10")
    page.get_by_label("Started up to").fill("2026-03-01")
    page.get_by_role("button", name="Show").click()
    error = page.locator("#sessions-to-error")
    expect(error).to_contain_text("after")
    expect(page.get_by_label("Started up to")).to_have_attribute("aria-invalid", "true")


@pytest.fixture
def stuck_session(server: Server) -> dict[str, Any]:
    """A session left open by a charger that disconnected in the middle of it."""
    ocpp_id = f"UI-STUCK-{uuid.uuid4().hex[:6]}"
    with server.api() as api:
        site = api.post("/sites", json={"name": "Stuck site", "max_current": 32})
        site_id = site.raise_for_status().json()["id"]
        api.post("/chargers", json={"ocpp_id": ocpp_id, "site_id": site_id}).raise_for_status()
        tags = api.get("/id-tags", params={"limit": 100}).raise_for_status().json()["data"]
        if all(t["id_tag"] != STUCK_TAG for t in tags):
            api.post("/id-tags", json={"id_tag": STUCK_TAG, "status": "Accepted"})
    url = f"ws://127.0.0.1:{server.ocpp_port}/ocpp/{ocpp_id}"
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        charger = TinyCharger(ws)
        boot = charger.call(
            "BootNotification", {"chargePointVendor": "UI", "chargePointModel": "T"}
        )
        assert boot["status"] == "Accepted", boot
        charger.call(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": now},
        )
        started = charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": STUCK_TAG, "meterStart": 1000, "timestamp": now},
        )
        assert started["idTagInfo"]["status"] == "Accepted", started
    charger_id = next(c["id"] for c in api_get(server, "/chargers", site_id=site_id)["data"])
    session: dict[str, Any] = wait_for(
        lambda: next(iter(api_get(server, "/sessions", charger_id=charger_id)["data"]), None),
        "the stuck session in the API",
    )
    wait_for(lambda: not api_get(server, f"/chargers/{charger_id}")["online"], "the charger gone")
    assert session["active"], session
    return session


def test_end_a_stuck_session(
    page: Page, server: Server, console: ConsoleWatch, stuck_session: dict[str, Any]
) -> None:
    console.allow_http(422, "/actions/end")
    open_sessions(page, server)
    page.get_by_label("Id tag").fill(STUCK_TAG)
    page.get_by_label("Status").select_option("active")
    page.get_by_role("button", name="Show").click()
    row = page.locator(f'.history tr[data-session-id="{stuck_session["id"]}"]')
    expect(row).to_contain_text("active")
    row.get_by_role("button", name="End…").click()
    # No reason: the API says what is missing, next to the field.
    row.get_by_role("button", name="End session").click()
    expect(row.locator(".field-error")).not_to_be_empty()
    row.get_by_label("Why end it?").fill("charger unplugged from the wall")
    row.get_by_role("button", name="End session").click()
    expect(row).to_contain_text("ended by")
    expect(row).to_contain_text("charger unplugged from the wall")
    ended = api_get(server, f"/sessions/{stuck_session['id']}")
    assert ended["active"] is False and ended["end_reason"] == "charger unplugged from the wall"
    # And the audit log says who did it.
    logged = api_get(server, "/events", charger_id=stuck_session["charger_id"], type="session.*")
    assert any(e["type"] == "session.stopped" for e in logged["data"]), logged


def test_sessions_fit_a_phone(browser_phone: Page, server: Server) -> None:
    open_sessions(browser_phone, server)
    browser_phone.locator('.totals [data-total="sessions"]').wait_for()
    expect(browser_phone.get_by_role("button", name="Download CSV")).to_be_visible()
    width = browser_phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the sessions page is {width} px wide on a 390 px phone"
