"""The operator's CLI (``chargegrid site|charger|session|tag``) against the app served on
127.0.0.1 by uvicorn in the test's loop; ``main([...])`` runs in a worker thread, as a
person's shell would beside a running server. The CLI only speaks HTTP, so these run on
SQLite; the API behind it is tested on both databases elsewhere."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from chargegrid.app import build_app
from chargegrid.cli import main
from chargegrid.config import Settings
from chargegrid.store.models import ChargingSession
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import Api
from tests.integration.test_rate_limit import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@asynccontextmanager
async def served(api: Api, settings: Settings | None = None) -> AsyncIterator[str]:
    """The same database and bus as ``api``, on a free port: the CLI's ``--url``."""
    app = build_app(settings or Settings(database_url=api.db.url), db=api.db, bus=api.bus)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def cli_errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The CLI's own error lines (the server's log shares this process's stderr)."""
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("chargegrid:")]


async def test_site_list_show_and_set_current_with_the_apis_messages(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    site = await api.site(name="Depot")
    token = await api.token("owner")
    async with served(api) as url:
        auth = ["--url", url, "--token", token]
        assert await cli("site", "list", *auth) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split("\t")[:2] == ["id", "name"]
        assert lines[1].split("\t")[:2] == [site["id"], "Depot"]

        assert await cli("site", "show", site["id"], *auth) == 0
        assert json.loads(capsys.readouterr().out)["name"] == "Depot"

        assert await cli("site", "set-current", site["id"], "20", "--for", "3600", *auth) == 0
        assert capsys.readouterr().out.strip() == "available_current = 20.0"
        got = await api.ok("GET", f"/sites/{site['id']}")
        assert got["available_current"] == 20

        # The API's validation, in one line naming the field; nothing changed.
        assert await cli("site", "set-current", site["id"], "20000", "--phase", "2", *auth) == 1
        (line,) = cli_errors(capsys)
        assert line.startswith("chargegrid: 422 ") and "available_current_phase2" in line
        assert (await api.ok("GET", f"/sites/{site['id']}"))["available_current"] == 20

        # A viewer may not: the API's 403, one line.
        viewer = await api.token("viewer")
        args = ["site", "set-current", site["id"], "10", "--url", url, "--token", viewer]
        assert await cli(*args) == 1
        (line,) = cli_errors(capsys)
        assert line.startswith("chargegrid: 403 ")


async def test_charger_list_and_show(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    site = await api.site()
    charger = await api.charger(site["id"], ocpp_id="CP-CLI-1")
    token = await api.token("viewer")
    async with served(api) as url:
        assert (
            await cli("charger", "list", "--site", site["id"], "--url", url, "--token", token) == 0
        )
        rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
        assert rows[1][:3] == [charger["id"], "CP-CLI-1", "offline"]
        assert await cli("charger", "show", str(uuid.uuid4()), "--url", url, "--token", token) == 1
        (line,) = cli_errors(capsys)
        assert line.startswith("chargegrid: 404 ")


async def test_session_list_and_end(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    site = await api.site()
    charger = await api.charger(site["id"])
    async with UnitOfWork(api.db) as uow:
        session = ChargingSession(
            charger_id=uuid.UUID(charger["id"]),
            evse_number=1,
            connector_id=1,
            transaction_id=await uow.sessions.allocate_transaction_id(),
            id_tag="STUCK",
            started_at=datetime.now(UTC),
            meter_start=0,
            energy_wh=0,
            authorization_status="Accepted",
        )
        uow.sessions.add(session)
        await uow.commit()
        session_id = str(session.id)
    monkeypatch.setenv("CHARGEGRID_TOKEN", await api.token("owner"))
    async with served(api) as url:
        assert await cli("session", "list", "--status", "active", "--url", url) == 0
        rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
        assert [r[0] for r in rows[1:]] == [session_id] and rows[1][3] == "STUCK"
        assert await cli("session", "end", session_id, "--reason", "stuck", "--url", url) == 0
        assert capsys.readouterr().out.startswith(f"ended {session_id}")
        assert await cli("session", "list", "--status", "active", "--url", url) == 0
        assert len(capsys.readouterr().out.splitlines()) == 1  # the header only
    got = await api.ok("GET", f"/sessions/{session_id}")
    assert got["active"] is False and got["end_reason"] == "stuck"


async def test_tag_import_of_300_rows_at_the_default_rate_limit(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The script issue 14 met (201 of 300 in 5 s): every row now gets in, at the
    default limit, without a single 429; a bad row is named by its line and field."""
    lines = ["id_tag,status,expires_at"]
    lines += [f"TAG{i:04d},Accepted," for i in range(300)]
    lines.append("TAG-BAD,Maybe,")
    csv_path = tmp_path / "tags.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    token = await api.token("owner")
    settings = Settings.from_env(database_url=api.db.url)  # the defaults a server has
    async with served(api, settings) as url:
        assert await cli("tag", "import", str(csv_path), "--url", url, "--token", token) == 1
        captured = capsys.readouterr()
        assert captured.out.strip() == "300 created, 0 already there, 1 refused (of 301)"
        (error,) = [line for line in captured.err.splitlines() if line.startswith("line ")]
        assert error.startswith("line 302 (TAG-BAD): 422 ") and "status" in error
        # Run again: nothing twice.
        assert await cli("tag", "import", str(csv_path), "--url", url, "--token", token) == 1
        assert capsys.readouterr().out.startswith("0 created, 300 already there")
    tags = await api.ok("GET", "/id-tags", params={"limit": 500})
    assert len(tags["data"]) == 300


async def test_a_file_without_id_tag_column_and_an_unreachable_server_are_one_line(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "tags.csv"
    csv_path.write_text("tag\nA\n")
    args = ["--url", "http://127.0.0.1:9", "--token", "x"]
    assert await cli("tag", "import", str(csv_path), *args) == 1
    assert "id_tag" in capsys.readouterr().err
    assert await cli("site", "list", *args) == 1
    (line,) = cli_errors(capsys)
    assert line.startswith("chargegrid: cannot reach http://127.0.0.1:9")
