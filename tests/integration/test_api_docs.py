"""``/api/v1/docs`` loads from the server itself: every URL the page references is local
and answers 200 (no CDN: the page was blank without internet)."""

from __future__ import annotations

import re

import pytest

from chargegrid.web.assets import STATIC_DIR
from tests.integration.conftest import Api

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_docs_page_references_only_local_urls_that_answer(api: Api) -> None:
    if not (STATIC_DIR / "vendor/swagger-ui/swagger-ui-bundle.js").is_file():
        pytest.fail("Swagger UI not installed: run scripts/build-assets.sh (make does)")
    page = await api.client.get("/api/v1/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*["']([^"']+)["']""", page.text)
    found = {a or b for a, b in urls}
    assert "/api/v1/openapi.json" in found and any(
        u.endswith("swagger-ui-bundle.js") for u in found
    )
    for url in found:
        assert url.startswith("/") and not url.startswith("//"), url  # nothing remote
        assert (await api.client.get(url)).status_code == 200, url
    assert "cdn" not in page.text.lower()
    assert re.search(r"validatorUrl.{0,5}null", page.text)
