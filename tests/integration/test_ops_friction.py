"""What a plain script or a first start met (issue 14 "Friction"): token create on a
path without a database, a database that cannot be reached, a port in use, and the demo
admin token minted anew at every start."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from chargegrid.cli import main
from chargegrid.demo_token import demo_admin_token, token_file
from chargegrid.services.auth import authenticate, revoke_token
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork


def test_token_create_refuses_a_path_without_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "typo.db"
    url = f"sqlite+aiosqlite:///{path}"
    assert main(["token", "create", "--role", "admin", "--database-url", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = [line for line in captured.err.splitlines() if line.startswith("chargegrid:")]
    assert "no database at" in line and "db upgrade" in line
    assert not path.exists()  # nothing created behind the operator's back
    assert main(["token", "list", "--database-url", url]) == 2
    assert not path.exists()


def test_token_create_refuses_a_file_that_db_upgrade_never_ran_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(b"")  # a file, but no schema
    url = f"sqlite+aiosqlite:///{path}"
    assert main(["token", "create", "--role", "admin", "--database-url", url]) == 2
    assert "no chargegrid schema" in capsys.readouterr().err


def test_a_database_nobody_listens_on_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+asyncpg://someone:secret@127.0.0.1:9/chargegrid"
    assert main(["db", "upgrade", "--database-url", url]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("chargegrid")]
    assert len(lines) == 1 and "secret" not in lines[0], lines
    assert "Traceback" not in lines[0]


def test_an_ocpp_port_in_use_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/serve.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--database-url", url, "--port", "0", "--ocpp-port", str(port)])
    assert code == 1
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("chargegrid:")]
    assert "address already in use" in line.lower() and str(port) in line
    assert "Traceback" not in err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_demo_token_is_reused_kept_0600_and_replaced_once_revoked(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "chargegrid.db.demo-token"
    first = await demo_admin_token(db, path)
    assert await demo_admin_token(db, path) == first  # a restart shows the same one
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    async with UnitOfWork(db) as uow:
        principal = await authenticate(uow, first)
        assert principal is not None and principal.token_id is not None
        await revoke_token(uow, principal.token_id)
        await uow.commit()
    second = await demo_admin_token(db, path)
    assert second != first and path.read_text().strip() == second
    assert token_file("sqlite+aiosqlite:////var/lib/cg/chargegrid.db") == Path(
        "/var/lib/cg/chargegrid.db.demo-token"
    )
