"""Schemathesis over the whole OpenAPI document, in process, as an admin.

Every operation gets generated valid and invalid requests; none may answer 5xx, and
every response must match the documented status codes, content types and schemas.
Then the state machine walks chains of requests along the document's links (create a
site, then its circuits, a charger there, its EVSEs...), so operations on an id are
reached with ids that exist. The long run is ``python -m bench.api_fuzz``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from bench.api_fuzz.workflow import CHECKS, SKIPPED_PATHS, fuzz_app, seed, walk
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from chargegrid.app import build_app
from chargegrid.config import Settings
from chargegrid.store.db import Database
from tests.conftest import pg_execute, pg_url_for, run_sync
from tests.hypothesis_budget import examples

MAX_EXAMPLES = 25
# Scenarios x steps: 30 walks reach 25-30 operations on an id (10 needed) in about
# 10 s per database; HYPOTHESIS_PROFILE=long walks 100, python -m bench.api_fuzz 1000.
STATEFUL_SCENARIOS = examples(30, 100)
STATEFUL_MAX_STEPS = 15


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
    app = fuzz_app(fuzz_url)
    app.state.fuzz_token = run_sync(seed(app))
    yield app
    run_sync(app.state.db.dispose())


def _operation_labels() -> list[str]:
    """Every documented operation, read from the app's own OpenAPI document."""
    document = build_app(Settings(), db=Database("sqlite+aiosqlite://", pooled=False)).openapi()
    return [
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
        if not re.search(SKIPPED_PATHS, path)
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


def test_stateful_walks_along_the_links_conform(fuzzed_app: FastAPI) -> None:
    tally = walk(
        fuzzed_app,
        fuzzed_app.state.fuzz_token,
        scenarios=STATEFUL_SCENARIOS,
        max_steps=STATEFUL_MAX_STEPS,
    )
    assert not tally.failures, "\n\n".join(tally.failures.values())
    # The walks followed links: ids from earlier answers reached later requests, and
    # operations on one resource answered 2xx with them (not only 404 on made-up ids).
    assert tally.linked_steps > tally.steps // 4, tally
    reached = {label for label, count in tally.succeeded.items() if "{" in label and count}
    assert len(reached) >= 10, sorted(reached)
    # Chargers answer (bench/api_fuzz/answering_gateway.py): actions get past the 409.
    assert any("/actions/" in label for label in reached), sorted(reached)
