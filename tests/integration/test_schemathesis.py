"""Schemathesis over the whole OpenAPI document, in process, as an admin.

Every operation gets generated valid and invalid requests; none may answer 5xx, and
every response must match the documented status codes, content types and schemas.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chargegrid.app import build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.uow import UnitOfWork
from tests.conftest import pg_execute, pg_url_for, run_sync

MAX_EXAMPLES = 25


async def _admin_token(url: str) -> str:
    db = Database(url)
    try:
        async with UnitOfWork(db) as uow:
            return await create_token(uow, Role.ADMIN)
    finally:
        await db.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzz_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per backend for the whole module (the fuzzer's data piles up in it)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
        path.write_bytes(template.read_bytes())
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"cg_fuzz_{secrets.token_hex(6)}"
    run_sync(pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield pg_url_for(name)
    finally:
        run_sync(pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def fuzzed_app(fuzz_url: str) -> Iterator[FastAPI]:
    # Each test-client call runs on a fresh event loop: no pooled connections across them.
    db = Database(fuzz_url, pooled=False)
    # Rate limit off: the fuzzer sends hundreds of requests a second with one token, and
    # should reach every operation rather than 429s (tests/integration/test_rate_limit.py).
    settings = Settings(database_url=fuzz_url, rate_limit=0)
    app = build_app(settings, db=db, bus=EventBus())
    app.state.fuzz_token = run_sync(_admin_token(fuzz_url))
    yield app
    run_sync(db.dispose())


def _operation_labels() -> list[str]:
    """Every documented operation, read from the app's own OpenAPI document."""
    document = build_app(Settings(), db=Database("sqlite+aiosqlite://", pooled=False)).openapi()
    return [
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
        if path not in SKIPPED_PATHS
    ]


# Event streams never end by design; each has its own test.
SKIPPED_PATHS = {"/api/v1/events/stream", "/api/v1/sites/{site_id}/load/stream"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed_app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("label", _operation_labels())
def test_operation_conforms_to_its_schema(
    label: str, mode: GenerationMode, api_schema: schemathesis.BaseSchema, fuzzed_app: FastAPI
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    headers = {"Authorization": f"Bearer {fuzzed_app.state.fuzz_token}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
