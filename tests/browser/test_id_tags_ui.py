"""Id tags in the dashboard: 300 tags imported from a CSV file (made here) are all
listed, rows the API refuses are reported with its words, importing the same file again
creates nothing twice, and a tag is blocked and unblocked."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.harness import ConsoleWatch, Server, sign_in

TAGS = 300


def all_tags(server: Server) -> list[dict[str, Any]]:
    tags: list[dict[str, Any]] = []
    cursor = ""
    with server.api() as api:
        while True:
            body = api.get(
                "/id-tags", params={"limit": 100, **({"cursor": cursor} if cursor else {})}
            )
            tags += body.json()["data"]
            cursor = body.json()["next_cursor"]
            if not cursor:
                return tags


def tags_csv(prefix: str, site_name: str) -> bytes:
    lines = ["id_tag,status,expires_at,parent_id_tag,site"]
    for n in range(1, TAGS + 1):
        # Every fifth on the demo site by name, every seventh blocked, some expiring.
        site = f'"{site_name}"' if n % 5 == 0 else ""
        status = "Blocked" if n % 7 == 0 else "Accepted"
        expires = "2031-06-30" if n % 3 == 0 else ""
        lines.append(f"{prefix}{n:04d},{status},{expires},{prefix}GROUP,{site}")
    lines.append(f"{prefix}BAD,Lost,,,")  # not a status: the API's 422
    lines.append(f"{prefix}NOWHERE,Accepted,,,Atlantis")  # no such site
    return ("\r\n".join(lines) + "\r\n").encode()


def test_import_300_tags_from_csv_and_see_them_all(
    page: Page, server: Server, console: ConsoleWatch
) -> None:
    console.allow_http(422, "/id-tags")  # the row with status "Lost", on purpose
    with server.api() as api:
        site_name = api.get("/sites").json()["data"][0]["name"]
    prefix = f"IMP{uuid.uuid4().hex[:5].upper()}-"
    data = tags_csv(prefix, site_name)
    sign_in(page, server)
    page.get_by_role("link", name="Id tags").click()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "tags.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="Import").click()
    status = page.locator("#import-status")
    expect(status).to_have_text(f"{TAGS} created, 2 refused — of {TAGS + 2} rows.", timeout=60_000)
    errors = page.locator("table.import-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.filter(has_text=f"{prefix}BAD")).to_contain_text("status")
    expect(errors.filter(has_text=f"{prefix}BAD")).to_contain_text("422")
    expect(errors.filter(has_text=f"{prefix}NOWHERE")).to_contain_text('no site named "Atlantis"')

    page.get_by_label("Search").fill(prefix)
    expect(page.locator(".tag-count")).to_contain_text(f"{TAGS} of ")
    rows = page.locator("table.tags tbody tr")
    expect(rows).to_have_count(TAGS)
    expect(page.locator(f"tr[data-id-tag='{prefix}0005']")).to_contain_text(site_name)
    expect(page.locator(f"tr[data-id-tag='{prefix}0007']")).to_have_attribute(
        "data-status", "Blocked"
    )
    page.get_by_label("Filter by status").select_option("Blocked")
    expect(rows).to_have_count(TAGS // 7)
    stored = all_tags(server)
    mine = [t for t in stored if t["id_tag"].startswith(prefix)]
    assert len(mine) == TAGS
    assert sum(t["expires_at"] is not None for t in mine) == TAGS // 3

    # The same file again: nothing is created twice, nothing changes.
    page.get_by_role("button", name="Import").click()
    expect(status).to_have_text(
        f"{TAGS} skipped (exist already), 2 refused — of {TAGS + 2} rows.", timeout=60_000
    )


def test_block_and_unblock_a_tag(page: Page, server: Server) -> None:
    tag = f"CARD{uuid.uuid4().hex[:6].upper()}"
    sign_in(page, server)
    page.goto(f"{server.base_url}/#/id-tags")
    form = page.locator("form[data-form=new-tag]")
    form.get_by_label("Id tag").fill(tag)
    form.get_by_label("Expires").fill("2030-01-31")
    form.get_by_role("button", name="Save").click()
    row = page.locator(f"tr[data-id-tag='{tag}']")
    expect(row).to_contain_text("Accepted")
    row.get_by_role("button", name="Block").click()
    expect(row).to_have_attribute("data-status", "Blocked")
    row.get_by_role("button", name="Unblock").click()
    expect(row).to_have_attribute("data-status", "Accepted")
    (stored,) = [t for t in all_tags(server) if t["id_tag"] == tag]
    assert stored["status"] == "Accepted"
    assert stored["expires_at"].startswith(("2030-01-31", "2030-02-01"))  # end of day, local
