"""Schemathesis' state machine over the whole REST API, driven by the served OpenAPI links.

Shared by the suite (tests/integration/test_schemathesis.py: a short run, each database)
and the benchmark (``python -m bench.api_fuzz``: a long one). Both run the app in
process as an admin, rate limit off, chargers answering (``answering_gateway``), on a
migrated database that ``seed`` fills with one of everything the lists link from. Each
distinct failure is counted with its request and the walks go on; the caller judges.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import hypothesis
import schemathesis
from bench.api_fuzz.answering_gateway import AnsweringGateway
from fastapi import FastAPI
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.stateful.state_machine import (
    APIStateMachine,
    StepInput,
    StepOutput,
)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chargegrid.app import API_PREFIX, build_app
from chargegrid.bus.memory import EventBus
from chargegrid.config import Settings
from chargegrid.ocpp.component import GATEWAY_HANDLE
from chargegrid.services.auth import Role, create_token
from chargegrid.store.db import Database
from chargegrid.store.models import ChargingSession, MeterValue
from chargegrid.store.uow import UnitOfWork

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Event streams never end by design; each has its own test.
SKIPPED_PATHS = r"/stream$"
SEEDED_AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def fuzz_app(url: str, *, chargers_online: bool = True) -> FastAPI:
    """The app on ``url`` without pooled connections: the test client runs each request
    on a fresh event loop, and a pooled connection would outlive its loop. With
    ``chargers_online`` every charger answers its actions (``AnsweringGateway``)."""
    db = Database(url, pooled=False)
    # Rate limit off: the fuzzer sends hundreds of requests a second with one token and
    # should reach every operation rather than 429s (tests/integration/test_rate_limit.py).
    app = build_app(Settings(database_url=url, rate_limit=0), db=db, bus=EventBus())
    if chargers_online:
        app.state.runtime.handles[GATEWAY_HANDLE] = AnsweringGateway()
    return app


async def seed(app: FastAPI) -> str:
    """An admin token, and one of everything the lists link from: a site with a circuit,
    a charger (one EVSE, one connector), an electricity meter, an id tag, a webhook (few
    generated bodies pass its topic check), and an active session with meter values and
    a finished one (only chargers start sessions)."""
    db: Database = app.state.db
    async with UnitOfWork(db) as uow:
        token = await create_token(uow, Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://seed") as client:

        async def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(API_PREFIX + path, json=body, headers=headers)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

        site = await created("/sites", {"name": "Seeded", "max_current": 63})
        charger = await created(
            "/chargers",
            {
                "ocpp_id": "SEED-1",  # fixed: its id picks its OCPP version in the gateway
                "site_id": site["id"],
                "evses": [{"evse_number": 1, "connectors": [{"connector_id": 1}]}],
            },
        )
        await created(f"/sites/{site['id']}/circuits", {"name": "Seeded", "max_current": 32})
        await created("/electricity-meters", {"name": "Seeded", "site_id": site["id"]})
        await created("/id-tags", {"id_tag": "SEEDTAG", "site_id": site["id"]})
        webhook = {"url": "http://127.0.0.1:9/hook", "events": ["session.*"]}
        await created("/webhooks", webhook | {"secret": "s" * 16, "site_id": site["id"]})
    async with UnitOfWork(db) as uow:
        for stopped in (False, True):
            session = ChargingSession(
                charger_id=uuid.UUID(charger["id"]),
                evse_number=1,
                connector_id=1,
                transaction_id=await uow.sessions.allocate_transaction_id(),
                id_tag="SEEDTAG",
                meter_start=1000,
                started_at=SEEDED_AT,
                energy_wh=0,
                authorization_status="Accepted",
            )
            if stopped:
                session.stopped_at = SEEDED_AT + timedelta(hours=1)
                session.meter_stop, session.energy_wh = 5000, 4000
            uow.sessions.add(session)
            await uow.sessions.flush()
            uow.meter_values.add_all(
                [
                    MeterValue(
                        session_id=session.id,
                        charger_id=session.charger_id,
                        evse_number=1,
                        timestamp=SEEDED_AT + timedelta(minutes=minute),
                        measurand="Energy.Active.Import.Register",
                        unit="Wh",
                        value=1000 + 100 * minute,
                    )
                    for minute in range(3)
                ]
            )
        await uow.commit()
    return token


@dataclass
class Tally:
    """What a run did: scenarios, steps and how they were reached, answers, failures."""

    scenarios: int = 0
    restarts: int = 0  # Hypothesis sessions begun again after the API's state moved
    steps: int = 0
    linked_steps: int = 0  # requests that carried a value from an earlier response
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)  # operation -> 2xx answers
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status)
    # "check title | operation" -> the first such failure, with the request as curl
    failures: dict[str, str] = field(default_factory=dict)
    failed_steps: int = 0

    def record_failures(self, group: FailureGroup, request: str) -> None:
        self.failed_steps += 1
        for failure in group.exceptions:
            assert isinstance(failure, Failure)
            key = f"{failure.title} | {failure.operation}"
            self.failures.setdefault(key, f"{failure}\n\nRequest: {request}")


def state_machine(app: FastAPI, token: str, tally: Tally) -> type[APIStateMachine]:
    """The state machine class over ``app``'s served document. Every answer goes through
    ``CHECKS``; a failure is counted in ``tally`` with its request, and the walk goes on
    (a replay to report it through Hypothesis would meet an API whose state has moved)."""
    # Only the links the document serves (Schemathesis' own inference would hide a
    # missing one), and valid requests: a schema-invalid one stops at validation, before
    # the database, and is the stateless run's job; a valid one on real ids goes deep.
    config = schemathesis.Config.from_dict(
        {
            "phases": {
                "stateful": {
                    "inference": {"algorithms": []},
                    "generation": {"mode": "positive"},
                }
            }
        }
    )
    schema = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", app, config=config)
    base = schema.exclude(path_regex=SKIPPED_PATHS).as_state_machine()
    headers = {"Authorization": f"Bearer {token}"}

    class ApiWorkflow(base):  # type: ignore[valid-type, misc]
        tallied: ClassVar[Tally] = tally

        def setup(self) -> None:
            self.tallied.scenarios += 1

        def step(self, input: StepInput) -> StepOutput:
            self.tallied.steps += 1
            self.tallied.linked_steps += bool(input.applied_parameters)
            self.tallied.operations[input.case.operation.label] += 1
            return super().step(input)  # type: ignore[no-any-return]

        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(
            self, response: Any, case: schemathesis.Case[Any], **kwargs: Any
        ) -> None:
            self.tallied.statuses[response.status_code] += 1
            self.tallied.answers[case.operation.label, response.status_code] += 1
            if response.status_code < 300:
                self.tallied.succeeded[case.operation.label] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                self.tallied.record_failures(group, case.as_curl_command(headers=headers))

    return ApiWorkflow


def walk(app: FastAPI, token: str, *, scenarios: int, max_steps: int, seed: int = 0) -> Tally:
    """Runs ``scenarios`` walks of at most ``max_steps`` requests each, seeded (the same
    database and seed give the same walks), and says what happened."""
    tally = Tally()
    machine = state_machine(app, token, tally)
    while tally.scenarios < scenarios:
        run_settings = hypothesis.settings(
            max_examples=scenarios - tally.scenarios,
            stateful_step_count=max_steps,
            deadline=None,
            database=None,
            # Shrinking replays scenarios against an API whose data they changed.
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        hypothesis.seed(seed + tally.restarts)(machine)
        try:
            machine.run(settings=run_settings)
        except FlakyStrategyDefinition:
            # A replayed choice met different data (a bundle now empty, a list longer):
            # the API's state moved, which is the point. Go on with the next seed, as
            # Schemathesis' own runner does.
            tally.restarts += 1
            continue
        break
    return tally
