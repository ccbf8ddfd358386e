"""Takes the README's dashboard screenshots with the browser tests' own harness.

    .venv/bin/python -m tests.browser.screenshots [--out docs/screenshots] [--settle 60]

Starts `chargegrid serve --demo`, lets the simulated site charge for ``--settle`` seconds
so the server's load history has something to draw, then saves one PNG per page, at
desktop and phone size: sign-in, sites, a site, the charger table, a charger (after a
command, so its answer shows) and the session history.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.harness import Server, launch_chromium, running_server, sign_in, wait_for

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def new_page(browser: Browser, viewport: dict[str, int]) -> Page:
    phone = viewport["width"] < 600
    context = browser.new_context(
        viewport=viewport, device_scale_factor=1, is_mobile=phone, has_touch=phone
    )
    return context.new_page()


def open_demo_site(page: Page) -> None:
    page.locator(".site-link").first.click()
    page.locator(".phase-bar").first.wait_for()
    page.locator(".chart canvas").wait_for()


def take(browser: Browser, server: Server, out: Path, settle_s: float) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []

    def save(page: Page, name: str, full: bool = True) -> None:
        path = out / f"{name}.png"
        if full:
            page.screenshot(path=str(path), full_page=True)
        else:  # A short page: its top is all there is to see.
            page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": 1280, "height": 420})
        saved.append(path)

    page = new_page(browser, DESKTOP)
    page.goto(server.base_url + "/")
    page.get_by_label("API token").wait_for()
    save(page, "sign-in", full=False)
    # The server records the load: give the simulated site time to make a history, and
    # its cars time to start and finish a few sessions.
    end = time.monotonic() + settle_s
    wait_for(lambda: time.monotonic() > end, "the demo to settle", settle_s + 5)
    sign_in(page, server)
    save(page, "sites", full=False)
    open_demo_site(page)
    page.locator("article.charger summary").first.click()
    save(page, "site")

    page.goto(server.base_url + "/#/chargers")
    page.locator(".charger-table tbody tr").first.wait_for()
    save(page, "chargers", full=False)
    open_charger(page)
    save(page, "charger")
    page.goto(server.base_url + "/#/sessions")
    page.locator('.totals [data-total="sessions"]').wait_for()
    save(page, "sessions")

    phone = new_page(browser, PHONE)
    sign_in(phone, server)
    open_demo_site(phone)
    phone.locator(".chart[data-history-points]:not([data-history-points=''])").wait_for()
    save(phone, "site-phone")
    open_charger(phone)
    save(phone, "charger-phone")
    return saved


def open_charger(page: Page) -> None:
    """The first demo charger's page, after it answered a trigger message."""
    page.goto(page.url.split("#")[0] + "#/chargers")
    page.locator(".charger-table tbody tr a").first.click()
    form = page.locator('form.action[data-action="trigger-message"]')
    form.get_by_label("Message").select_option("StatusNotification")
    form.locator("button[type=submit]").click()
    form.locator(".action-answer[data-status]").wait_for()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--settle", type=float, default=60.0, help="seconds of demo first")
    args = parser.parse_args()
    with running_server() as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for path in take(browser, server, args.out, args.settle):
            print(path)
        browser.close()


if __name__ == "__main__":
    main()
