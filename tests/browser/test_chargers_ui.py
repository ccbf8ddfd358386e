"""Chargers in the dashboard: the charger page and its actions on the demo server's
simulated chargers, and the charger table at 500 chargers (created through the API).

What the page shows is compared with what the REST API says, never with numbers
written into the test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.browser.harness import ConsoleWatch, Server, sign_in, wait_for
from tests.browser.ocpp16_client import TinyCharger

pytestmark = pytest.mark.browser

MANY = 500
DASH = "\u2013"  # the page writes ranges as "1\u201350"
# A tag of the test's own: the simulated cars never use it, so a start never meets a
# tag that is busy elsewhere (ConcurrentTx).
TAG = "UI-TEST-TAG"


def api_get(server: Server, path: str, **params: Any) -> Any:
    with server.api() as api:
        return api.get(path, params=params).raise_for_status().json()


def demo_charger(server: Server, ocpp_id: str) -> dict[str, Any]:
    chargers = api_get(server, "/chargers", limit=100)["data"]
    found: dict[str, Any] = next(c for c in chargers if c["ocpp_id"] == ocpp_id)
    return found


def active_sessions(server: Server, charger_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api_get(
        server, "/sessions", charger_id=charger_id, active="true"
    )["data"]
    return found


def open_charger(page: Page, server: Server, charger: dict[str, Any]) -> None:
    """From the sites list, through the site, to the charger's page: as a person does."""
    sign_in(page, server)
    page.locator(".site-link").first.click()
    page.get_by_role("link", name=charger["ocpp_id"], exact=True).click()
    expect(page.get_by_role("heading", name=charger["ocpp_id"], level=1)).to_be_visible()
    wait_for(lambda: charger_online(server, charger["id"]), f"{charger['ocpp_id']} online")


def charger_online(server: Server, charger_id: str) -> bool:
    return bool(api_get(server, f"/chargers/{charger_id}")["online"])


def action_form(page: Page, action: str) -> Any:
    return page.locator(f'form.action[data-action="{action}"]')


def send(page: Page, action: str) -> str:
    """Submits one action form; returns the charger's answer as the page shows it."""
    form = action_form(page, action)
    form.locator("button[type=submit]").click()
    answer = form.locator(".action-answer")
    wait_for(
        lambda: (
            (answer.get_attribute("data-status") or "") != ""
            and "Waiting" not in answer.inner_text()
        ),
        f"the answer to {action}",
        page=page,
    )
    return answer.get_attribute("data-status") or ""


def stop_from_page(page: Page, server: Server, charger_id: str, session_id: str) -> None:
    form = action_form(page, "remote-stop")
    wait_for(
        lambda: (
            session_id in form.locator("select").evaluate("s => [...s.options].map(o => o.value)")
        ),
        "the session to be offered for a remote stop",
        page=page,
    )
    form.locator("select").select_option(session_id)
    assert send(page, "remote-stop") == "Accepted"
    wait_for(
        lambda: all(s["id"] != session_id for s in active_sessions(server, charger_id)),
        "the API to show the session stopped",
        page=page,
    )


def test_start_and_stop_a_session_from_the_charger_page(page: Page, server: Server) -> None:
    with server.api() as api:
        api.post("/id-tags", json={"id_tag": TAG, "status": "Accepted"}).raise_for_status()
    charger = demo_charger(server, "CG-DEMO-02")
    open_charger(page, server, charger)

    started: dict[str, Any] | None = None
    for _attempt in range(3):
        # A simulated car may be charging: stop it first, from the page too.
        for session in active_sessions(server, charger["id"]):
            stop_from_page(page, server, charger["id"], session["id"])
        action_form(page, "remote-start").get_by_label("Id tag").fill(TAG)
        if send(page, "remote-start") != "Accepted":
            continue  # A car plugged in between: the charger said so; try again.
        started = wait_for(
            lambda: next(
                (s for s in active_sessions(server, charger["id"]) if s["id_tag"] == TAG), None
            ),
            "the remote-started session in the API",
            page=page,
        )
        break
    assert started is not None, "the charger refused every remote start"
    row = page.locator(f'.recent-sessions tr[data-session-id="{started["id"]}"]')
    expect(row).to_contain_text(TAG)
    expect(row).to_contain_text("active")
    expect(page.locator(".action-log")).to_contain_text("Remote start: Accepted")

    stop_from_page(page, server, charger["id"], started["id"])
    expect(row).to_contain_text("completed")
    stopped = api_get(server, f"/sessions/{started['id']}")
    assert stopped["stopped_at"] is not None and stopped["active"] is False


def test_actions_show_the_chargers_own_answers(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    console.allow_http(422, "/actions/unlock")
    v16 = demo_charger(server, "CG-DEMO-03")
    open_charger(page, server, v16)

    action_form(page, "trigger-message").get_by_label("Message").select_option("Heartbeat")
    assert send(page, "trigger-message") == "Accepted"

    # 1.6: the configuration keys the charger reported, as a table.
    action_form(page, "get-configuration").get_by_label("Keys").fill("MeterValueSampleInterval")
    send(page, "get-configuration")
    table = action_form(page, "get-configuration").locator(".answer-table")
    expect(table).to_contain_text("MeterValueSampleInterval")

    # A bad value: the API's words next to the field it names, nothing sent.
    form = action_form(page, "unlock")
    form.get_by_label("Connector").fill("zero")
    assert send(page, "unlock") == "http-422"
    expect(form.locator('.field-error[data-field="connector_id"]')).not_to_be_empty()
    expect(form.get_by_label("Connector")).to_have_attribute("aria-invalid", "true")

    # 2.0.1: the device model instead of configuration keys.
    v201 = demo_charger(server, "CG-DEMO-01")
    page.goto(f"{server.base_url}/#/chargers/{v201['id']}")
    expect(page.get_by_role("heading", name="CG-DEMO-01", level=1)).to_be_visible()
    expect(action_form(page, "get-configuration")).to_have_count(0)
    send(page, "get-variables")
    expect(action_form(page, "get-variables").locator(".answer-table")).to_contain_text(
        "HeartbeatInterval"
    )
    # Its recent events come from the event log (GET /events?charger_id=).
    logged = api_get(server, "/events", charger_id=v201["id"], limit=5)["data"]
    assert logged, "the event log holds nothing for a connected charger"
    expect(page.locator(".event-log")).to_contain_text(logged[-1]["type"])


def test_a_viewer_is_offered_no_commands(page: Page, server: Server) -> None:
    charger = demo_charger(server, "CG-DEMO-04")
    sign_in(page, server, server.token("viewer"))
    page.goto(f"{server.base_url}/#/chargers/{charger['id']}")
    expect(page.get_by_role("heading", name="CG-DEMO-04", level=1)).to_be_visible()
    expect(page.locator(".charger-actions")).to_contain_text("can look but not send commands")
    expect(page.locator("form.action")).to_have_count(0)
    expect(page.locator(".charger-settings details")).to_have_count(0)


@pytest.fixture(scope="module")
def depot(server: Server) -> dict[str, Any]:
    """A second site with two circuits and 500 chargers (never connected: offline)."""
    with server.api() as api:
        site = api.post("/sites", json={"name": "Depot", "max_current": 250}).raise_for_status()
        site_id = site.json()["id"]
        circuits = [
            api.post(f"/sites/{site_id}/circuits", json={"name": name, "max_current": 125})
            .raise_for_status()
            .json()
            for name in ("Bay A", "Bay B")
        ]
        for n in range(1, MANY + 1):
            body = {
                "ocpp_id": f"DEPOT-{n:04d}",
                "site_id": site_id,
                "circuit_id": circuits[n % 2]["id"],
            }
            api.post("/chargers", json=body).raise_for_status()
    return {"id": site_id, "circuits": circuits}


def all_chargers(server: Server, **params: Any) -> list[dict[str, Any]]:
    """Every charger the admin sees, page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = api_get(
            server, "/chargers", limit=100, **params, **({"cursor": cursor} if cursor else {})
        )
        found += body["data"]
        cursor = body["next_cursor"]
        if not cursor:
            return found


def table_ids(page: Page) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        ".charger-table tbody tr td:first-child", "cells => cells.map(c => c.textContent)"
    )
    return ids


def test_500_chargers_search_filter_sort_and_page(
    page: Page, server: Server, depot: dict[str, Any]
) -> None:
    everyone = all_chargers(server)
    every = len(everyone)
    assert every >= MANY
    sign_in(page, server)
    # The sites list shows that the depot's chargers are all offline.
    depot_item = page.locator(f'li[data-site-id="{depot["id"]}"]')
    expect(depot_item.locator('.flag[data-flag="offline"]')).to_have_text(f"{MANY} offline")

    page.get_by_role("link", name="Chargers", exact=True).click()
    count = page.locator(".chargers-page .list-count")
    expect(count).to_have_text(f"1{DASH}50 of {every} chargers")
    # Only one page of rows is in the document, however many chargers there are.
    expect(page.locator(".charger-table tbody tr")).to_have_count(50)

    page.get_by_label("Search").fill("depot-0042")
    expect(count).to_have_text(f"1{DASH}1 of 1 chargers ({every} in all)")
    assert table_ids(page) == ["DEPOT-0042"]
    page.get_by_label("Search").fill("")

    page.get_by_label("Circuit").select_option(label="Bay B (Depot)")
    in_b = sum(1 for c in everyone if c["circuit_id"] == depot["circuits"][1]["id"])
    expect(count).to_contain_text(f"of {in_b} chargers")

    page.get_by_label("Circuit").select_option("")
    page.get_by_label("Link").select_option(label="online")
    online = sum(1 for c in all_chargers(server) if c["online"])
    expect(count).to_contain_text(f"of {online} chargers")
    assert all(not i.startswith("DEPOT-") for i in table_ids(page))
    page.get_by_label("Link").select_option("")

    # The table starts sorted by charger; a click on that column turns the order round.
    expect(page.locator('th[data-column="ocpp_id"]')).to_have_attribute("aria-sort", "ascending")
    page.get_by_role("button", name="Charger", exact=True).click()
    expect(page.locator('th[data-column="ocpp_id"]')).to_have_attribute("aria-sort", "descending")
    assert table_ids(page)[0] == f"DEPOT-{MANY:04d}"
    page.get_by_role("button", name="Next").click()
    expect(count).to_have_text(f"51{DASH}100 of {every} chargers")
    assert table_ids(page)[0] == f"DEPOT-{MANY - 50:04d}"

    # Each row leads to its charger's page, which says it is offline.
    page.get_by_role("link", name=f"DEPOT-{MANY - 50:04d}").click()
    expect(page.get_by_role("heading", name=f"DEPOT-{MANY - 50:04d}", level=1)).to_be_visible()
    expect(page.locator('.charger-page .page-head .flag[data-flag="offline"]')).to_be_visible()


def page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_chargers_and_a_charger_fit_a_phone(browser_phone: Page, server: Server) -> None:
    page = browser_phone
    sign_in(page, server)
    page.get_by_role("link", name="Chargers", exact=True).click()
    page.locator(".charger-table tbody tr").first.wait_for()
    # The column headers are hidden on a phone; the order is chosen in the form instead.
    page.get_by_label("Sort by").select_option(label="Charger ↓")
    first = page.locator(".charger-table tbody tr td:first-child").first.inner_text()
    assert first == max(table_ids(page)), table_ids(page)
    assert page_width(page) <= 390, "the charger table is wider than the phone"
    page.locator(".charger-table tbody tr a").first.click()
    expect(page.locator("form.action").first).to_be_visible()
    assert page_width(page) <= 390, "the charger page is wider than the phone"


def not_following(server: Server, site_id: str) -> list[dict[str, Any]]:
    load = api_get(server, f"/sites/{site_id}/load")
    found: list[dict[str, Any]] = [
        s for s in load["sessions"] if s["reason"] == "not_following_limit"
    ]
    return found


def test_a_charger_not_following_its_limit_stands_out(page: Page, server: Server) -> None:
    """A 1.6 charger whose car draws 30 A against a limit of at most 10 A, for longer
    than the reaction time: flagged on the sites list, the site, the table and its page."""
    ocpp_id = "UI-GREEDY"
    with server.api() as api:
        site = api.post("/sites", json={"name": "Small fuse", "max_current": 10})
        site_id = site.raise_for_status().json()["id"]
        api.post("/chargers", json={"ocpp_id": ocpp_id, "site_id": site_id}).raise_for_status()
        api.post("/id-tags", json={"id_tag": "UI-GREEDY-TAG", "status": "Accepted"})
    url = f"ws://127.0.0.1:{server.ocpp_port}/ocpp/{ocpp_id}"
    with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        charger = TinyCharger(ws)
        assert (
            charger.call("BootNotification", {"chargePointVendor": "UI", "chargePointModel": "G"})[
                "status"
            ]
            == "Accepted"
        )
        charger.call(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": now()},
        )
        tx = charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "UI-GREEDY-TAG", "meterStart": 0, "timestamp": now()},
        )
        assert tx["idTagInfo"]["status"] == "Accepted", tx

        def draw_too_much() -> bool:
            values = [
                {"value": "30", "measurand": "Current.Import", "phase": p, "unit": "A"}
                for p in ("L1", "L2", "L3")
            ]
            reading = {"timestamp": now(), "sampledValue": values}
            charger.call(
                "MeterValues",
                {"connectorId": 1, "transactionId": tx["transactionId"], "meterValue": [reading]},
            )
            return bool(not_following(server, site_id))

        # A reading per poll until the load manager says so (after its 10 s reaction time).
        wait_for(draw_too_much, "the session to be counted as not following", deadline_s=40)
        # The link stays open (an offline charger would be 'offline', not this).
        sign_in(page, server)
        item = page.locator(f'li[data-site-id="{site_id}"]')
        expect(item.locator('.flag[data-flag="not_following_limit"]')).to_have_text(
            "1 not following its limit"
        )
        item.locator(".site-link").click()
        card = page.locator("article.charger", has_text=ocpp_id)
        expect(card.locator('.flag[data-flag="not_following_limit"]')).to_be_visible()
        expect(card).to_have_class(re.compile(r"\battention\b"))
        page.get_by_role("link", name="Chargers as a table").click()
        page.get_by_label("Needs attention").select_option("not_following_limit")
        assert table_ids(page) == [ocpp_id]
        page.get_by_role("link", name=ocpp_id).click()
        expect(page.locator('.page-head .flag[data-flag="not_following_limit"]')).to_be_visible()
        expect(page.locator(".evses td.reason.alert")).to_contain_text("not following its limit")


def test_a_faulted_charger_stands_out_with_its_error(page: Page, server: Server) -> None:
    ocpp_id = "UI-FAULTED"
    with server.api() as api:
        site = api.post("/sites", json={"name": "Faulty row", "max_current": 32})
        site_id = site.raise_for_status().json()["id"]
        api.post("/chargers", json={"ocpp_id": ocpp_id, "site_id": site_id}).raise_for_status()
    url = f"ws://127.0.0.1:{server.ocpp_port}/ocpp/{ocpp_id}"
    with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        charger = TinyCharger(ws)
        charger.call("BootNotification", {"chargePointVendor": "UI", "chargePointModel": "F"})
        fault = {"connectorId": 0, "errorCode": "GroundFailure", "status": "Faulted"}
        charger.call("StatusNotification", {**fault, "timestamp": now()})
        wait_for(
            lambda: (
                api_get(server, "/chargers", site_id=site_id)["data"][0]["error_code"]
                == "GroundFailure"
            ),
            "the API to show the fault",
        )
        sign_in(page, server)
        item = page.locator(f'li[data-site-id="{site_id}"]')
        expect(item.locator('.flag[data-flag="faulted"]')).to_have_text("1 faulted")
        page.get_by_role("link", name="Chargers", exact=True).click()
        page.get_by_label("Needs attention").select_option("faulted")
        assert table_ids(page) == [ocpp_id]
        badge = page.locator('.charger-table .flag[data-flag="faulted"]')
        expect(badge).to_have_attribute("title", "error GroundFailure")
        page.get_by_role("link", name=ocpp_id).click()
        expect(page.locator(".charger-facts")).to_contain_text("GroundFailure")


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
