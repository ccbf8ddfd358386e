"""Signing in and new tabs (js/token.js): a new tab is signed in while a signed-in tab
of the same browser is open; once every tab is closed, nothing is left unless "Remember
on this device" was ticked; signing out in one tab signs out the others."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.harness import ConsoleWatch, Server


def sign_in_form(page: Page, server: Server, remember: bool = False) -> None:
    page.goto(server.base_url + "/")
    page.get_by_label("API token").fill(server.admin_token)
    if remember:
        page.get_by_label("Remember on this device").check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sites", exact=True)).to_be_visible()


def test_a_new_tab_is_signed_in_while_one_is_open_and_not_after(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    sign_in_form(page, server)
    context = page.context
    second = context.new_page()
    console.attach(second)
    second.goto(server.base_url + "/")
    expect(second.get_by_role("heading", name="Sites", exact=True)).to_be_visible()
    assert second.evaluate("localStorage.getItem('chargegrid.token')") is None

    page.close()
    second.close()
    third = context.new_page()
    console.attach(third)
    third.goto(server.base_url + "/")
    expect(third.get_by_label("API token")).to_be_visible()


def test_remember_on_this_device_survives_closing_every_tab(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    sign_in_form(page, server, remember=True)
    context = page.context
    page.close()
    later = context.new_page()
    console.attach(later)
    later.goto(server.base_url + "/")
    expect(later.get_by_role("heading", name="Sites", exact=True)).to_be_visible()
    later.get_by_role("button", name="Sign out").click()
    expect(later.get_by_label("API token")).to_be_visible()
    assert later.evaluate("localStorage.getItem('chargegrid.token')") is None
    expect(later.get_by_label("Remember on this device")).not_to_be_checked()


def test_signing_out_in_one_tab_signs_out_the_others(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    sign_in_form(page, server)
    other = page.context.new_page()
    console.attach(other)
    other.goto(server.base_url + "/")
    expect(other.get_by_role("heading", name="Sites", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(other.get_by_text("Signed out in another tab.")).to_be_visible()
    other.reload()
    expect(other.get_by_label("API token")).to_be_visible()
