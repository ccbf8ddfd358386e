"""The dashboard under test: a real `chargegrid serve --demo` process and Debian's chromium.

Shared by the browser tests (through conftest fixtures) and by `python -m
tests.browser.screenshots`, so the README's screenshots show exactly what the tests see.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
# No component updates, sync or QUIC: the browser must not reach for the internet.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_DEADLINE_S = 60.0
BIN = Path(sys.executable).parent


def wait_for(
    condition: Callable[[], Any], what: str, deadline_s: float = 20.0, page: Page | None = None
) -> Any:
    """Polls ``condition`` until it returns something truthy, or fails naming ``what``.

    With ``page``, the pause between polls lets Playwright deliver the page's events
    (requests, console), which a plain sleep would hold back.
    """
    end = time.monotonic() + deadline_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")
        if page is None:
            time.sleep(0.05)
        else:
            page.wait_for_timeout(50)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running `chargegrid serve --demo` with an admin token."""

    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    admin_token: str = ""
    ocpp_port: int = 0

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def token(self, role: str, site_id: str | None = None) -> str:
        """A new API token, made by the CLI exactly as the README tells an operator."""
        args = [str(BIN / "chargegrid"), "token", "create", "--role", role]
        args += ["--database-url", self.database_url]
        if site_id:
            args += ["--site", site_id]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"token create failed ({out.returncode}):\n{out.stderr[-3000:]}")
        return out.stdout.strip().splitlines()[-1].strip()

    def has_path(self, path: str) -> bool:
        """Whether the API documents ``path`` (an OpenAPI path template)."""
        spec = httpx.get(f"{self.base_url}/api/v1/openapi.json", timeout=10).json()
        return f"/api/v1{path}" in spec["paths"]

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=f"{self.base_url}/api/v1", headers=headers, timeout=10)


@contextlib.contextmanager
def running_server(demo: bool = True, extra_args: tuple[str, ...] = ()) -> Iterator[Server]:
    """Starts the server (the demo unless ``demo`` is false: a server without sites) on
    free 127.0.0.1 ports against a temporary SQLite file; ``extra_args`` go to serve."""
    with tempfile.TemporaryDirectory(prefix="chargegrid-browser-") as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/chargegrid.db"
        port, ocpp_port = free_port(), free_port()
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    str(BIN / "chargegrid"),
                    "serve",
                    *(["--demo"] if demo else []),
                    *extra_args,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--ocpp-port",
                    str(ocpp_port),
                    "--database-url",
                    database_url,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp,
            )
        server = Server(
            f"http://127.0.0.1:{port}", database_url, process, log_path, ocpp_port=ocpp_port
        )
        try:
            wait_for(lambda: _answers(server), "the server to answer", START_DEADLINE_S)
            server.admin_token = server.token("admin")
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answers(server: Server) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"chargegrid serve exited early:\n{server.log()[-4000:]}")
    try:
        return httpx.get(f"{server.base_url}/api/v1/openapi.json", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
    )


@dataclass
class ConsoleWatch:
    """Every console error and uncaught exception of a page; tests fail on any.

    Chromium logs each HTTP error answer as a console error. A test that provokes one on
    purpose (a 422 for a bad value) allows that status, and nothing else.
    """

    errors: list[str] = field(default_factory=list)
    allowed: list[tuple[int, str]] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def allow_http(self, status: int, url_part: str = "") -> None:
        """Accept HTTP ``status`` answers (to URLs containing ``url_part``)."""
        self.allowed.append((status, url_part))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text, url = message.text, message.location.get("url", "")
        if any(f"status of {s} " in text and part in url for s, part in self.allowed):
            return
        self.errors.append(f"{text} ({url})")


def sign_in(page: Page, server: Server, token: str | None = None) -> None:
    """Signs in through the form, as a person does."""
    page.goto(server.base_url + "/")
    page.get_by_label("API token").fill(token or server.admin_token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Sites", exact=True).wait_for()


def environment_ready() -> tuple[bool, str]:
    """Whether this machine can run the browser tests, and if not, why."""
    if not CHROMIUM.exists():
        return False, "Debian's chromium is not installed (scripts/ensure-chromium.sh)"
    vendor = Path(__file__).parents[2] / "src/chargegrid/web/static/vendor/uPlot.esm.js"
    if not vendor.exists():
        return False, "dashboard assets are not built (scripts/build-assets.sh)"
    return True, ""


@contextlib.contextmanager
def simulated_chargers(
    server: Server, prefix: str, count: int = 1, password: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`chargegrid simulate` against the server's OCPP port, as an installer's chargers:
    ids ``PREFIX001``...; stopped (and its output kept in the server's directory) after."""
    args = [str(BIN / "chargegrid"), "simulate", "--url"]
    args += [f"ws://127.0.0.1:{server.ocpp_port}/ocpp", "--chargers", str(count)]
    args += ["--prefix", prefix, "--seed", "3"]
    if password:
        args += ["--password", password]
    log_path = server.log_path.with_name(f"simulate-{prefix.strip('-')}.log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
