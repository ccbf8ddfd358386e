"""Database URLs as people write them get the async drivers."""

from __future__ import annotations

import pytest

from chargegrid.store.db import async_url


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db/cg", "postgresql+asyncpg://u:p@db/cg"),
        ("postgres://u@db/cg", "postgresql+asyncpg://u@db/cg"),
        ("sqlite:///cg.db", "sqlite+aiosqlite:///cg.db"),
        ("postgresql+asyncpg://u@db/cg", "postgresql+asyncpg://u@db/cg"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_async_url(given: str, used: str) -> None:
    assert async_url(given) == used
