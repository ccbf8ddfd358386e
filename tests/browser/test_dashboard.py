"""The operator's dashboard in headless chromium against a real `chargegrid serve --demo`.

Values the page shows are compared with what the REST API says at the same moment, never
with numbers written into the test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.harness import ConsoleWatch, Server, sign_in, wait_for

pytestmark = pytest.mark.browser

PHASES = ("l1", "l2", "l3")


def demo_site(server: Server) -> dict[str, Any]:
    with server.api() as api:
        sites = api.get("/sites").raise_for_status().json()["data"]
        assert sites, "serve --demo seeded no site"
        site: dict[str, Any] = api.get(f"/sites/{sites[0]['id']}").raise_for_status().json()
        return site


def patch_site(server: Server, site_id: str, body: dict[str, Any]) -> dict[str, Any]:
    with server.api() as api:
        site: dict[str, Any] = api.patch(f"/sites/{site_id}", json=body).raise_for_status().json()
        return site


def site_bar_limits(page: Page, site_id: str) -> dict[str, str]:
    """The limit each phase bar of the site node shows (data-limit), by phase."""
    limits: dict[str, str] = page.eval_on_selector_all(
        f'.phase-bar[data-node="{site_id}"]',
        "bars => Object.fromEntries(bars.map(b => [b.dataset.phase, b.dataset.limit]))",
    )
    return limits


def effective(site: dict[str, Any]) -> dict[str, float]:
    return {p: float(site["effective_available_current"][p]) for p in PHASES}


def wait_for_site_limits(page: Page, site_id: str, expected: dict[str, float], why: str) -> None:
    """Polls the site's bars until they show ``expected`` as their limits."""
    wait_for(
        lambda: {p: as_number(v) for p, v in site_bar_limits(page, site_id).items()} == expected,
        f"the site's bars to show {expected} ({why})",
    )


def shown_allocation(page: Page, site_id: str) -> dict[str, tuple[str, str]]:
    """(limit, allocated) per phase as the site's bars show them."""
    shown: dict[str, tuple[str, str]] = page.eval_on_selector_all(
        f'.phase-bar[data-node="{site_id}"]',
        "bars => Object.fromEntries(bars.map(b => [b.dataset.phase,"
        " [b.dataset.limit, b.dataset.allocated]]))",
    )
    return {p: (str(as_number(v[0])), str(as_number(v[1]))) for p, v in shown.items()}


def api_allocation(server: Server, site_id: str) -> dict[str, tuple[str, str]]:
    """(limit, allocated) per phase of the site node in the API's live load."""
    with server.api() as api:
        load = api.get(f"/sites/{site_id}/load").raise_for_status().json()
    node = next(n for n in load["nodes"] if n["kind"] == "site")
    return {
        p: (str(float(v["limit"])), str(float(v["allocated"]))) for p, v in node["phases"].items()
    }


def open_site(page: Page, server: Server, site: dict[str, Any]) -> None:
    sign_in(page, server)
    page.get_by_role("link", name=site["name"]).click()
    expect(page.get_by_role("heading", name=site["name"], level=1)).to_be_visible()
    page.locator(f'.phase-bar[data-node="{site["id"]}"]').first.wait_for()


def as_number(text: str) -> float:
    return float(text) if text else float("nan")


def test_sign_in_rejects_a_bad_token_then_shows_the_demo_site(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    console.allow_http(401)
    site = demo_site(server)
    page.goto(server.base_url + "/")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#token-error")).to_have_text("This token is not valid.")

    page.get_by_label("API token").fill(server.admin_token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name=site["name"]).click()
    expect(page.get_by_role("heading", name=site["name"], level=1)).to_be_visible()
    wait_for_site_limits(page, site["id"], effective(site), "the site as the API has it")
    # The token stays with the tab: a reload does not ask again.
    page.reload()
    expect(page.get_by_role("heading", name=site["name"], level=1)).to_be_visible()


def test_a_change_made_elsewhere_shows_up_live_without_a_reload(page: Page, server: Server) -> None:
    site = demo_site(server)
    open_site(page, server, site)
    if server.has_path("/sites/{site_id}/load/stream"):
        expect(page.locator(".live-status")).to_have_attribute("data-status", "live")
    page.evaluate("window.__notReloaded = true")
    target = round(float(site["max_current"]) * 0.5, 1)
    try:
        expected = effective(patch_site(server, site["id"], {"available_current": target}))
        assert expected != effective(site)
        wait_for_site_limits(page, site["id"], expected, "a change made through the API")
        assert page.evaluate("window.__notReloaded") is True
    finally:
        patch_site(server, site["id"], {"available_current": -1})


def test_changing_available_current_in_the_form_moves_the_bars(page: Page, server: Server) -> None:
    site = demo_site(server)
    open_site(page, server, site)
    form = page.locator('form[data-form="site-current"]')
    target = round(float(site["max_current"]) * 0.4, 1)
    try:
        form.get_by_label("All phases").fill(str(target))
        form.get_by_role("button", name="Save").click()
        # The override form says what is in force now (and what it replaced, if anything).
        note = page.locator("[data-override-note]")
        expect(note).to_contain_text(f"Saved: {target:g} A on all phases")
        expected = effective(demo_site(server))
        assert all(v <= target for v in expected.values())
        wait_for_site_limits(page, site["id"], expected, "the new available current")
        if server.has_path("/sites/{site_id}/load"):
            # The allocation shown is the load manager's, as the API reports it now.
            wait_for(
                lambda: shown_allocation(page, site["id"]) == api_allocation(server, site["id"]),
                "the allocated bars to match the API's live load",
            )

        form.get_by_role("button", name="Clear override").click()
        expect(note).to_contain_text("Override cleared")
        back = effective(demo_site(server))
        assert back == effective(site)
        wait_for_site_limits(page, site["id"], back, "the override cleared")
    finally:
        patch_site(server, site["id"], {"available_current": -1})


def test_a_bad_value_shows_the_apis_message_next_to_the_field(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    console.allow_http(422)
    site = demo_site(server)
    with server.api() as api:
        answer = api.patch(f"/sites/{site['id']}", json={"available_current": "lots"})
    assert answer.status_code == 422
    api_messages = [e["message"] for e in answer.json()["errors"]]

    open_site(page, server, site)
    form = page.locator('form[data-form="site-current"]')
    field = form.get_by_label("All phases")
    field.fill("lots")
    form.get_by_role("button", name="Save").click()
    error = form.locator('.field-error[data-field="available_current"]')
    expect(error).to_have_text(" ".join(api_messages))
    expect(field).to_have_attribute("aria-invalid", "true")
    # Nothing changed on the server.
    assert demo_site(server)["effective_available_current"] == site["effective_available_current"]


def test_a_charger_setting_out_of_range_is_refused_at_its_field(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    console.allow_http(422)
    site = demo_site(server)
    with server.api() as api:
        chargers = api.get("/chargers", params={"site_id": site["id"]}).raise_for_status().json()
    assert chargers["data"], "the demo site has no charger"
    charger = chargers["data"][0]
    with server.api() as api:
        answer = api.patch(f"/chargers/{charger['id']}", json={"max_charge_current": 99})
    assert answer.status_code == 422
    api_messages = [e["message"] for e in answer.json()["errors"]]
    open_site(page, server, site)
    card = page.locator(f'article.charger[data-charger-id="{charger["id"]}"]')
    card.get_by_text("Charger settings").click()
    form = card.locator('form[data-form="charger"]')
    form.get_by_label("Max charge current").fill("99")
    form.get_by_role("button", name="Save").click()
    error = form.locator('.field-error[data-field="max_charge_current"]')
    expect(error).to_have_text(" ".join(api_messages))
    with server.api() as api:
        after = api.get(f"/chargers/{charger['id']}").raise_for_status().json()
    assert after["max_charge_current"] == charger["max_charge_current"]


def test_a_viewer_sees_the_site_but_no_forms(page: Page, server: Server) -> None:
    site = demo_site(server)
    token = server.token("viewer")
    sign_in(page, server, token)
    page.get_by_role("link", name=site["name"]).click()
    expect(page.get_by_role("heading", name=site["name"], level=1)).to_be_visible()
    expect(page.get_by_text("Your role can look but not change settings.")).to_be_visible()
    assert page.locator("form.settings").count() == 0


def test_fits_a_phone_screen(browser_phone: Page, server: Server) -> None:
    page = browser_phone
    site = demo_site(server)
    open_site(page, server, site)
    overflow = page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"


def test_no_request_leaves_the_server(page: Page, server: Server) -> None:
    """Everything the dashboard loads comes from chargegrid itself: it works offline."""
    foreign: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(server.base_url) or request.url.startswith("data:")
            else foreign.append(request.url)
        ),
    )
    site = demo_site(server)
    open_site(page, server, site)
    page.locator(".chart canvas").wait_for()
    assert foreign == []


def test_the_url_serve_demo_prints_signs_straight_in(page: Page, server: Server) -> None:
    """`make run` prints a dashboard link; following it needs no copying of tokens."""
    line = wait_for(
        lambda: next((s for s in server.log().splitlines() if s.startswith("Dashboard: ")), None),
        "serve --demo to print the dashboard URL",
    )
    url = line.removeprefix("Dashboard: ").strip()
    assert "#token=" in url
    page.goto(server.base_url + url[url.index("/#token=") :])
    expect(page.get_by_role("heading", name="Sites")).to_be_visible()
    site = demo_site(server)
    expect(page.get_by_role("link", name=site["name"])).to_be_visible()
    # The token left the address bar at once, so it is not bookmarked or shared.
    assert "token" not in page.url


def test_each_charger_shows_its_own_evses_and_status(page: Page, server: Server) -> None:
    site = demo_site(server)
    with server.api() as api:
        chargers = api.get("/chargers", params={"site_id": site["id"]}).raise_for_status().json()
        evses: dict[str, set[str]] = {}
        for charger in chargers["data"]:
            body = api.get(f"/chargers/{charger['id']}/evses").raise_for_status().json()
            evses[charger["id"]] = {e["id"] for e in body["data"]}
    open_site(page, server, site)
    for charger in chargers["data"]:
        card = page.locator(f'article.charger[data-charger-id="{charger["id"]}"]')
        expect(card.locator("header h3")).to_have_text(charger["ocpp_id"])
        expect(card.locator("header .status")).to_have_class(f"status status-{charger['status']}")
        rows = card.locator("tr[data-evse-id]")
        shown = set(rows.evaluate_all("rows => rows.map(r => r.dataset.evseId)"))
        assert shown == evses[charger["id"]], charger["ocpp_id"]


def test_a_site_owner_gets_operational_forms_but_not_fuse_or_wiring(
    page: Page, server: Server
) -> None:
    site = demo_site(server)
    sign_in(page, server, server.token("owner", site["id"]))
    page.get_by_role("link", name=site["name"]).click()
    form = page.locator('form[data-form="site-current"]')
    expect(form.get_by_label("All phases")).to_be_visible()
    expect(page.locator('form[data-form="site-settings"]')).to_be_visible()
    assert page.locator('input[name="max_current"]').count() == 0
    assert page.locator('form[data-form="connector"]').count() == 0
    assert page.locator('input[name="evse_id"]').count() == 0
    assert page.locator('form[data-form="charger"]').count() >= 1


def test_leaving_a_site_closes_its_live_streams(page: Page, server: Server) -> None:
    open_streams: set[str] = set()

    def track(request: Request) -> None:
        if "/stream" in request.url:
            open_streams.add(request.url)

    def ended(request: Request) -> None:
        open_streams.discard(request.url)

    page.on("request", track)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    site = demo_site(server)
    open_site(page, server, site)
    wait_for(lambda: open_streams, "the site page to open its event streams", page=page)
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Sites").click()
    expect(page.get_by_role("heading", name="Sites")).to_be_visible()
    wait_for(lambda: not open_streams, f"the streams to close: {open_streams}", page=page)


def active_session_ids(server: Server, site_id: str) -> set[str]:
    with server.api() as api:
        answer = api.get("/sessions", params={"site_id": site_id, "active": "true"})
    return {s["id"] for s in answer.raise_for_status().json()["data"]}


def test_the_demo_charges_and_its_sessions_update_live(page: Page, server: Server) -> None:
    """The simulated cars of `serve --demo` show up, with energy growing, no reload."""
    site = demo_site(server)
    wait_for(lambda: active_session_ids(server, site["id"]), "the demo's cars to charge", 60)
    open_site(page, server, site)
    shown = page.locator("tr[data-session-id]")
    wait_for(
        lambda: (
            set(shown.evaluate_all("rows => rows.map(r => r.dataset.sessionId)"))
            == active_session_ids(server, site["id"])
        ),
        "the sessions table to list the API's active sessions",
        page=page,
    )
    first = shown.first
    energy = first.locator('td[data-label="Energy"]')
    before = energy.inner_text()
    wait_for(lambda: energy.inner_text() != before, f"energy to move on from {before}", 60, page)
    # The allocator's reasons are words; a fuse's id is shown by its name.
    reasons = page.locator("td.reason").all_inner_texts()
    assert not any(re.search(r"_|[0-9a-f]{8}-[0-9a-f]{4}", r) for r in reasons), reasons


def test_a_sessions_meter_values_do_not_re_read_the_sites_configuration(
    page: Page, server: Server
) -> None:
    """session.updated comes with every meter value: the site page re-reads its active
    sessions for it, never the site, its circuits or chargers (issue 14's friction)."""
    site = demo_site(server)
    updates = "".join(
        f'event: session.updated\ndata: {{"site_id": "{site["id"]}", "session_id": "s{n}"}}\n\n'
        for n in range(3)
    )
    # The event stream is ours for this test: only session.updated, again on each reconnect.
    page.route(
        "**/api/v1/events/stream*",
        lambda route: route.fulfill(
            status=200, headers={"Content-Type": "text/event-stream"}, body=updates
        ),
    )
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    open_site(page, server, site)

    def reads(pattern: str) -> int:
        return sum(1 for url in asked if re.search(pattern, url))

    configuration = [
        rf"/api/v1/sites/{site['id']}$",
        rf"/api/v1/sites/{site['id']}/circuits",
        rf"/api/v1/chargers\?site_id={site['id']}",
    ]
    first = [reads(pattern) for pattern in configuration]
    sessions = rf"/api/v1/sessions\?site_id={site['id']}&active=true"
    initial_sessions = reads(sessions)
    wait_for(
        lambda: reads(sessions) >= initial_sessions + 2,
        "the active sessions re-read after session.updated",
        deadline_s=60,
        page=page,
    )
    assert [reads(pattern) for pattern in configuration] == first


def test_a_sessions_deadline_and_its_source_show_on_the_site_page(
    page: Page, server: Server
) -> None:
    """A deadline set through the API shows on its charger's row, with who said so."""
    site = demo_site(server)
    wait_for(lambda: active_session_ids(server, site["id"]), "the demo's cars to charge", 60)
    session_id = sorted(active_session_ids(server, site["id"]))[0]
    departure = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    with server.api() as api:
        body = {"departure_at": departure.isoformat(), "energy_wanted_wh": 20000}
        api.patch(f"/sessions/{session_id}", json=body).raise_for_status()
    open_site(page, server, site)
    cell = page.locator('td[data-label="Deadline"]', has_text="wants 20 kWh (set by hand)")
    wait_for(lambda: cell.count() == 1, "the session's deadline on its charger's row", page=page)
    assert "(set by hand)" in cell.inner_text().split("·")[0]
    with server.api() as api:
        cleared = {"departure_at": None, "energy_wanted_wh": None}
        api.patch(f"/sessions/{session_id}", json=cleared).raise_for_status()
