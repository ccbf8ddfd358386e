"""Takes the README's dashboard screenshots with the browser tests' own harness.

    .venv/bin/python -m tests.browser.screenshots [--out docs/screenshots] [--settle 60]

Starts `chargegrid serve --demo`, lets the simulated site charge for ``--settle`` seconds
so the chart has a history, then saves one PNG per page, at desktop and phone size.
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
    sign_in(page, server)
    save(page, "sites", full=False)
    open_demo_site(page)
    # The page records the load it sees: give the simulated site time to draw a history.
    end = time.monotonic() + settle_s
    wait_for(lambda: time.monotonic() > end, "the demo to settle", settle_s + 5)
    page.locator("article.charger summary").first.click()
    save(page, "site")

    phone = new_page(browser, PHONE)
    sign_in(phone, server)
    open_demo_site(phone)
    # A new tab starts its chart empty: let it record a little before the picture.
    end = time.monotonic() + settle_s / 3
    wait_for(lambda: time.monotonic() > end, "the phone's chart to fill", settle_s)
    save(phone, "site-phone")
    return saved


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
