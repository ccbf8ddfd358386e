"""The ``chargegrid`` command: db upgrade, token create, and the demo seed."""

from __future__ import annotations

import uuid

import httpx
import pytest
from alembic.script import ScriptDirectory

from chargegrid.app import build_app
from chargegrid.cli import main
from chargegrid.config import Settings
from chargegrid.services.auth import authenticate
from chargegrid.services.configure.demo import DEMO_CHARGERS, DEMO_SITE_ID, seed_demo
from chargegrid.store.db import Database
from chargegrid.store.migrate import alembic_config
from chargegrid.store.uow import UnitOfWork
from tests.conftest import run_sync


async def _principal_of(url: str, token: str) -> tuple[str, frozenset[uuid.UUID] | None] | None:
    db = Database(url)
    try:
        async with UnitOfWork(db) as uow:
            principal = await authenticate(uow, token)
            return (principal.role.value, principal.site_ids) if principal else None
    finally:
        await db.dispose()


def test_db_upgrade_and_token_create_on_a_fresh_file(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert capsys.readouterr().out.strip().splitlines()[-1] == head
    assert main(["token", "create", "--role", "service", "--database-url", url]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert run_sync(_principal_of(url, token)) == ("service", None)


def test_token_scoped_to_an_unknown_site_fails_cleanly(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    assert main(["db", "upgrade", "--database-url", url]) == 0  # token create needs it
    capsys.readouterr()
    args = ["token", "create", "--role", "owner", "--site", str(uuid.uuid4())]
    assert main([*args, "--database-url", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no site" in captured.err
    assert (
        main(["token", "create", "--role", "owner", "--site", "nope", "--database-url", url]) == 2
    )


async def test_demo_seed_is_idempotent_and_its_token_works(db: Database) -> None:
    first = await seed_demo(db)
    second = await seed_demo(db)
    assert first != second
    app = build_app(Settings(database_url=db.url), db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"Authorization": f"Bearer {second}"}
        sites = (await client.get("/api/v1/sites", headers=headers)).json()["data"]
        assert [s["id"] for s in sites] == [str(DEMO_SITE_ID)]
        assert sites[0]["max_current"] == 63
        circuits = (
            await client.get(f"/api/v1/sites/{DEMO_SITE_ID}/circuits", headers=headers)
        ).json()
        assert sorted(c["phase_rotation"] for c in circuits["data"]) == ["RST", "STR"]
        chargers = (await client.get("/api/v1/chargers", headers=headers)).json()["data"]
        assert len(chargers) == len(DEMO_CHARGERS)
        rotations = {c["evses"][0]["connectors"][0]["phase_rotation"] for c in chargers}
        assert {"S", "T"} <= rotations


def test_token_list_and_revoke(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    assert main(["db", "upgrade", "--database-url", url]) == 0  # token create needs it
    assert (
        main(
            ["token", "create", "--role", "viewer", "--name", "wall display", "--database-url", url]
        )
        == 0
    )
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["token", "list", "--database-url", url]) == 0
    listed = capsys.readouterr().out
    assert token not in listed and "wall display" in listed
    token_id = listed.strip().splitlines()[1].split("\t")[0]
    assert main(["token", "revoke", token_id, "--database-url", url]) == 0
    assert run_sync(_principal_of(url, token)) is None
    assert main(["token", "revoke", str(uuid.uuid4()), "--database-url", url]) == 2
