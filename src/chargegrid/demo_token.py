"""``serve --demo``'s admin token: minted once, then the same one at every start.

Minting a new never-expiring admin token at each start left one more live credential
behind every restart. The token is still stored only as its hash in the database; the
plain token is kept in a file of its own, readable by its owner only (mode 0600), beside
the SQLite database (``chargegrid.db.demo-token``) or, for another database, in the
working directory (``chargegrid.demo-token``), so each start can show it again. Delete
the file, or revoke the token (``chargegrid token revoke``), and the next start mints a
new one.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from chargegrid.services.auth import Role, authenticate
from chargegrid.services.configure.demo import seed_demo
from chargegrid.store.db import Database, is_sqlite
from chargegrid.store.uow import UnitOfWork


def token_file(database_url: str) -> Path:
    url = make_url(database_url)
    if is_sqlite(database_url) and url.database and url.database != ":memory:":
        return Path(url.database + ".demo-token")
    return Path("chargegrid.demo-token")


def _kept(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def _keep(path: Path, token: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    os.chmod(path, 0o600)  # an older file may have had wider bits


async def demo_admin_token(db: Database, path: Path) -> str:
    """Seed the demo once and return its admin token: the stored one while it works."""
    kept = _kept(path)
    if kept:
        async with UnitOfWork(db) as uow:
            principal = await authenticate(uow, kept)
        if principal is not None and principal.role is Role.ADMIN:
            return kept
    token = await seed_demo(db)
    _keep(path, token)
    return token
