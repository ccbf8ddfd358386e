"""The dashboard is served from the package, and says clearly when its bundle is missing."""

from __future__ import annotations

import posixpath
import re
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chargegrid.web import mount
from chargegrid.web.assets import STATIC_DIR, VENDOR_FILES
from tests.browser.harness import environment_ready
from tests.services import require


@pytest.fixture
def static_copy(tmp_path: Path) -> Path:
    """The package's own static files, minus the vendor bundle (copied in by each test)."""
    target = tmp_path / "static"
    shutil.copytree(STATIC_DIR, target, ignore=shutil.ignore_patterns("vendor"))
    return target


def client_for(static_dir: Path) -> TestClient:
    app = FastAPI()
    mount(app, static_dir=static_dir)
    return TestClient(app)


def test_missing_vendor_bundle_answers_an_explanation(static_copy: Path) -> None:
    response = client_for(static_copy).get("/")
    assert response.status_code == 503
    assert "scripts/build-assets.sh" in response.text
    for name in VENDOR_FILES:
        assert name in response.text


def test_page_is_served_once_the_bundle_is_there(static_copy: Path) -> None:
    (static_copy / "vendor").mkdir()
    for name in VENDOR_FILES:
        (static_copy / name).write_text("/* stand-in */")
    response = client_for(static_copy).get("/")
    assert response.status_code == 200
    assert '<main id="app"' in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_every_file_the_page_names_is_in_the_package() -> None:
    """index.html and every ES module import resolve to files under /static: no CDN."""
    ready, why = environment_ready()
    require(ready, why)
    client = client_for(STATIC_DIR)
    index = client.get("/").text
    pending = re.findall(r'(?:src|href)="([^"#]+)"', index)
    seen: set[str] = set()
    while pending:
        url = pending.pop()
        assert url.startswith("/static/"), f"{url} is not served by chargegrid"
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        if url.endswith(".js"):
            base = url.rsplit("/", 1)[0]
            for target in re.findall(r'^\s*import\s[^"]*"([^"]+)"', response.text, re.M):
                assert target.startswith("."), f"{url} imports {target} from outside"
                pending.append(posixpath.normpath(posixpath.join(base, target)))
    assert "/static/vendor/uPlot.esm.js" in seen
    assert "/static/js/main.js" in seen
