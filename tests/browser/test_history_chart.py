"""The site's load chart draws the server's history: at once, after a reload, in a new tab,
for a viewer, and over the period picked (hour, day, week, month).

"Before any live message could have filled it" is made certain, not hoped for: the live
stream's request is held by the test (never answered), so every point the chart shows
beyond the first /load answer came from GET /sites/{id}/load/history.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Response, Route, expect

from tests.browser.conftest import watched_page
from tests.browser.harness import ConsoleWatch, Server, sign_in, wait_for

pytestmark = pytest.mark.browser

# The live stream is held, so the one /load answer can add at most one sample: a chart
# drawing 2 or more came from the history. Each point is a 5 s bucket of the hour's
# default step, so every point asked for here is 5 s of the module's setup.
MIN_POINTS = 2


def demo_site(server: Server) -> dict[str, Any]:
    with server.api() as api:
        site: dict[str, Any] = api.get("/sites").raise_for_status().json()["data"][0]
        return site


def server_points(server: Server, site_id: str) -> int:
    with server.api() as api:
        body = api.get(f"/sites/{site_id}/load/history").raise_for_status().json()
    return len(body["points"])


@pytest.fixture(scope="module")
def site(server: Server) -> dict[str, Any]:
    """The demo site once the server has recorded a few history points of it."""
    found = demo_site(server)
    wait_for(
        lambda: server_points(server, found["id"]) >= MIN_POINTS,
        f"{MIN_POINTS} history points of the demo site",
        deadline_s=60,
    )
    return found


def hold_live_streams(page: Page) -> list[Route]:
    """Never answers the SSE requests: no live message can reach the chart."""
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/load/stream", hold)
    page.route("**/events/stream", hold)
    return held


def open_site_watching_history(page: Page, site: dict[str, Any]) -> dict[str, Any]:
    """Clicks into the site; returns the history answer the page received."""
    with page.expect_response(lambda r: "/load/history" in r.url) as info:
        page.get_by_role("link", name=site["name"]).click()
    return history_body(info.value)


def history_body(response: Response) -> dict[str, Any]:
    assert response.status == 200, response.text()
    body: dict[str, Any] = response.json()
    return body


def chart_points(page: Page) -> tuple[str, int]:
    """(history points the chart says it loaded, samples it draws)."""
    chart = page.locator(".chart")
    return chart.get_attribute("data-history-points") or "", int(
        chart.get_attribute("data-points") or 0
    )


def assert_drawn_from_history(page: Page, body: dict[str, Any]) -> None:
    loaded = len(body["points"])
    assert loaded >= MIN_POINTS, f"the history answer held only {loaded} points"
    wait_for(
        lambda: chart_points(page)[0] == str(loaded),
        f"the chart to take the {loaded} history points",
        page=page,
    )
    _, drawn = chart_points(page)
    # The live stream is held: at most the one /load answer adds a sample.
    assert loaded <= drawn <= loaded + 1, (loaded, drawn)
    expect(page.locator(".chart canvas")).to_be_visible()


def test_chart_shows_the_last_hour_at_once_and_after_a_reload(
    page: Page, server: Server, site: dict[str, Any]
) -> None:
    held = hold_live_streams(page)
    sign_in(page, server)
    body = open_site_watching_history(page, site)
    assert body["kind"] == "site" and body["id"] == site["id"]
    assert_drawn_from_history(page, body)
    expect(page.locator('.chart button[data-range="hour"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    # The legend names what is allocation and what is measurement, in amperes.
    legend = page.locator(".chart .u-legend").inner_text()
    for words in ("L1 allocated", "L1 measured", "L1 limit"):
        assert words in legend, legend
    expect(page.locator(".chart-key")).to_contain_text("Amperes per grid phase")

    with page.expect_response(lambda r: "/load/history" in r.url) as info:
        page.reload()
    assert_drawn_from_history(page, history_body(info.value))
    assert held, "the page opened no live stream to hold"


@pytest.fixture
def viewer_tab(browser: Browser, console: ConsoleWatch) -> Iterator[Page]:
    """A new tab in a browser session of its own (nothing stored in the first one)."""
    yield from watched_page(browser, console, viewport={"width": 1280, "height": 900})


def test_a_new_tab_and_a_viewer_see_the_same_history(
    viewer_tab: Page, server: Server, site: dict[str, Any]
) -> None:
    hold_live_streams(viewer_tab)
    sign_in(viewer_tab, server, server.token("viewer"))
    body = open_site_watching_history(viewer_tab, site)
    assert_drawn_from_history(viewer_tab, body)


def test_picking_a_period_asks_the_server_for_it(
    page: Page, server: Server, site: dict[str, Any]
) -> None:
    hold_live_streams(page)
    sign_in(page, server)
    open_site_watching_history(page, site)
    for key, seconds in (("day", 86400), ("week", 7 * 86400), ("month", 30 * 86400)):
        with page.expect_response(lambda r: "/load/history" in r.url) as info:
            page.get_by_role("button", name=key.capitalize(), exact=True).click()
        body = history_body(info.value)
        span = _seconds(body["to"]) - _seconds(body["from"])
        # The server aligns "from" to its step: the span covers the period, plus one step.
        assert seconds <= span <= seconds + body["step"], (key, span, body["step"])
        expect(page.locator(".chart")).to_have_attribute("data-range", key)
        expect(page.get_by_role("button", name=key.capitalize(), exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        expected = str(len(body["points"]))
        wait_for(
            lambda: chart_points(page)[0] == expected,  # noqa: B023 (used at once)
            f"the chart to show the {key}",
            page=page,
        )


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
