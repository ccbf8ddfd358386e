"""Setting up a site in the dashboard, as an installer does, on a server without sites
(started with --auto-register): the first screen says how to begin and offers the form;
a circuit and a charger are added; the simulated charger, started with the URL and
password the page showed, comes online on it. Also: a clamped override says so, a
per-phase override says what it replaced, a viewer gets no forms, and a charger that
connected on its own is accepted onto a circuit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import Server, running_server, sign_in, simulated_chargers, wait_for


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """No demo: this module starts from an empty server, as a new installation does."""
    with running_server(demo=False, extra_args=("--auto-register",)) as server:
        yield server


def a_site(server: Server, name: str) -> dict[str, object]:
    """A site with one circuit, made through the API (for tests about other screens)."""
    with server.api() as api:
        for site in api.get("/sites").json()["data"]:
            if site["name"] == name:
                return dict(site)
        site = api.post("/sites", json={"name": name, "max_current": 63}).raise_for_status().json()
        api.post(
            f"/sites/{site['id']}/circuits", json={"name": f"{name} row", "max_current": 32}
        ).raise_for_status()
        return dict(site)


def test_first_screen_creates_a_site_and_a_charger_comes_online_on_it(
    page: Page, server: Server
) -> None:
    sign_in(page, server)
    expect(page.get_by_role("heading", name="No sites yet")).to_be_visible()
    new_site = page.locator("form[data-form=new-site]")
    new_site.get_by_label("Name").fill("Harbour car park")
    new_site.get_by_label("Main fuse").fill("63")
    new_site.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Set up Harbour car park")).to_be_visible()

    circuit = page.locator("form[data-form=new-circuit]")
    circuit.get_by_label("Name").fill("Row A")
    circuit.get_by_label("Fuse (max current)").fill("32")
    circuit.get_by_role("button", name="Save").click()
    expect(page.locator(".setup-circuit[data-circuit-name='Row A']")).to_be_visible()

    charger = page.locator("form[data-form=new-charger]")
    charger.get_by_label("OCPP id (charge point identity)").fill("HARBOUR-001")
    charger.get_by_role("button", name="Generate").click()
    charger.get_by_label("Circuit").select_option(label="Row A (32 A)")
    charger.get_by_role("button", name="Save").click()

    url = page.locator(".connection-panel .ocpp-url[data-scheme=ws]")
    expect(url).to_have_text(f"ws://127.0.0.1:{server.ocpp_port}/ocpp/HARBOUR-001")
    password = page.locator(".connection-panel .ocpp-password").inner_text()
    assert re.fullmatch(r"[A-Za-z0-9]{16}", password)
    row = page.locator(".setup-charger[data-ocpp-id=HARBOUR-001]")
    expect(row).to_contain_text("on Row A")
    expect(row.locator(".online")).to_have_text("offline")

    # The installer types the URL and password into the charger (here: the simulator).
    with simulated_chargers(server, "HARBOUR-", password=password):
        expect(row.locator(".online")).to_have_text("online", timeout=30_000)
    with server.api() as api:
        chargers = api.get("/chargers").json()["data"]
        (stored,) = [c for c in chargers if c["ocpp_id"] == "HARBOUR-001"]
        circuits = api.get(f"/sites/{stored['site_id']}/circuits").json()["data"]
    assert stored["circuit_id"] == next(c["id"] for c in circuits if c["name"] == "Row A")


def test_an_override_above_the_fuse_says_it_was_limited_and_what_it_replaced(
    page: Page, server: Server
) -> None:
    site = a_site(server, "Clamp street")
    sign_in(page, server)
    page.goto(f"{server.base_url}/#/sites/{site['id']}/setup")
    override = page.locator("section[aria-labelledby=setup-override-h]")
    override.get_by_label("All phases").fill("80")
    override.get_by_label("Lapses after").fill("90 min")
    override.get_by_role("button", name="Save").click()
    note = override.locator("[data-override-note]")
    expect(note).to_contain_text("80 A: limited to the main fuse (63 A)")
    expect(note).to_contain_text("Lapses in 1 h 30 min")
    expect(override.locator(".override-now")).to_contain_text("63 A on all phases")

    override.get_by_label("L1 only").fill("10")
    override.get_by_role("button", name="Save").click()
    expect(note).to_contain_text("It replaced the all-phase override of 63 A")
    expect(note).to_contain_text("L2, L3 went back to the main fuse (63 A)")
    with server.api() as api:
        stored = api.get(f"/sites/{site['id']}").json()
    assert stored["effective_available_current"] == {"l1": 10, "l2": 63, "l3": 63}

    override.get_by_label("Lapses after").fill("soon")
    override.get_by_role("button", name="Save").click()
    expect(override.locator("[data-field=lapse]")).to_contain_text("minutes or hours")


def test_a_viewer_sees_no_forms_and_an_owner_no_fuses(page: Page, server: Server) -> None:
    site = a_site(server, "Read only lane")
    sign_in(page, server, server.token("viewer"))
    expect(page.get_by_role("link", name="New site")).to_have_count(0)
    expect(page.get_by_role("link", name="Pending chargers")).to_be_visible()
    page.goto(f"{server.base_url}/#/sites/{site['id']}/setup")
    read_only = "Your role (viewer) may look but not change anything here."
    expect(page.get_by_text(read_only)).to_be_visible()
    expect(page.locator(".setup-circuit")).to_have_count(1)
    expect(page.locator("form")).to_have_count(0)
    page.goto(f"{server.base_url}/#/id-tags")
    expect(page.get_by_role("heading", name="Tags", exact=True)).to_be_visible()
    expect(page.locator("form")).to_have_count(0)
    expect(page.locator("input[type=file]")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, server.token("owner"))
    page.goto(f"{server.base_url}/#/sites/{site['id']}/setup")
    expect(page.locator("section[aria-labelledby=setup-override-h] form")).to_have_count(1)
    expect(page.locator("form[data-form=new-circuit]")).to_have_count(0)
    expect(page.locator("form[data-form=new-charger]")).to_have_count(0)
    expect(page.get_by_label("Main fuse")).to_have_count(0)


def test_a_charger_that_connected_on_its_own_is_accepted_onto_a_circuit(
    page: Page, server: Server
) -> None:
    a_site(server, "Stray yard")
    sign_in(page, server)
    prefix = f"STRAY{uuid.uuid4().hex[:4]}-"
    ocpp_id = f"{prefix}001"
    with simulated_chargers(server, prefix):
        page.get_by_role("link", name="Pending chargers").click()
        item = page.locator(f".pending-charger[data-ocpp-id='{ocpp_id}']")
        expect(item).to_be_visible(timeout=30_000)
        item.get_by_label("Accept onto").select_option(label="Stray yard: Stray yard row (32 A)")
        item.get_by_role("button", name="Save").click()
        expect(item).to_have_count(0)
    with server.api() as api:
        wait_for(
            lambda: any(
                c["ocpp_id"] == ocpp_id and c["registration_status"] == "Accepted"
                for c in api.get("/chargers").json()["data"]
            ),
            "the charger to be accepted",
        )
