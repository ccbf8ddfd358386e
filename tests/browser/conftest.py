"""Fixtures for the dashboard's browser tests: one demo server per module, one chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.harness import (
    ConsoleWatch,
    Server,
    environment_ready,
    launch_chromium,
    running_server,
)
from tests.services import require

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    ready, why = environment_ready()
    require(ready, why)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    ready, why = environment_ready()
    require(ready, why)
    with running_server() as server:
        yield server


@pytest.fixture
def console(server: Server) -> ConsoleWatch:
    watch = ConsoleWatch()
    if not server.has_path("/sites/{site_id}/load"):
        # Until the live-load endpoint exists the page shows the configuration and says
        # "live load not available"; its probe for the endpoint is the one 404 allowed.
        watch.allow_http(404, "/load")
    return watch


def watched_page(browser: Browser, console: ConsoleWatch, **context: Any) -> Iterator[Page]:
    """A page in a fresh context (own sessionStorage); fails the test on any console error."""
    browser_context = browser.new_context(**context)
    page = browser_context.new_page()
    page.set_default_timeout(15_000)
    console.attach(page)
    yield page
    browser_context.close()
    assert not console.errors, "console errors:\n" + "\n".join(console.errors)


@pytest.fixture
def page(browser: Browser, console: ConsoleWatch) -> Iterator[Page]:
    yield from watched_page(browser, console, viewport={"width": 1280, "height": 900})


@pytest.fixture
def browser_phone(browser: Browser, console: ConsoleWatch) -> Iterator[Page]:
    """A phone-sized touch screen (390 by 844 CSS pixels)."""
    yield from watched_page(
        browser, console, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
