"""Logs, metrics, probes and rate-limit headers (issue 14 "The server, for ops"), with the
app in process. The probes' database checks run on SQLite and PostgreSQL; the rest is
the same on both and runs on SQLite."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from chargegrid import logging_setup
from chargegrid.app import build_app
from chargegrid.bus_log import log_event
from chargegrid.config import Settings
from chargegrid.metrics import count_ocpp
from chargegrid.store.db import Database
from tests.integration.conftest import Api

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Every log line of the test, formatted as ``--log-format json`` writes it."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logging_setup.configure("json", "debug", stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def _parsed(stream: io.StringIO) -> list[dict[str, object]]:
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]  # each line one object, or this fails


def test_json_lines_name_the_charger_from_the_context_or_the_call(
    json_lines: io.StringIO,
) -> None:
    log = logging.getLogger("chargegrid.ocpp.test")
    token = logging_setup.current_charger.set("CP-7")
    try:
        log.info("boot from %s", "CP-7")
        try:
            raise RuntimeError("line one\nline two")
        except RuntimeError:
            log.exception("handler failed")
    finally:
        logging_setup.current_charger.reset(token)
    log.warning("outside any charger")
    log.info("named by the call", extra={"charger": "CP-9", "site_id": uuid.UUID(int=1)})
    lines = _parsed(json_lines)
    assert [line.get("charger") for line in lines] == ["CP-7", "CP-7", None, "CP-9"]
    assert lines[0]["msg"] == "boot from CP-7" and lines[0]["level"] == "info"
    assert "line two" in str(lines[1]["exc"])
    assert lines[3]["site_id"] == str(uuid.UUID(int=1))
    assert all(isinstance(line["ts"], str) and line["logger"] for line in lines)


def test_text_lines_put_the_charger_in_brackets() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logging_setup.configure("text", "info", stream)
    try:
        logging.getLogger("chargegrid.x").debug("not at info")
        logging.getLogger("chargegrid.x").info("hello", extra={"charger": "CP-1", "n": 2})
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    (line,) = stream.getvalue().splitlines()
    assert re.fullmatch(r"\S+ INFO chargegrid\.x \[CP-1\] hello n=2", line), line


def test_bus_events_are_one_line_naming_the_charger(json_lines: io.StringIO) -> None:
    log_event(
        "session.stopped",
        {
            "session_id": "s1",
            "charger_id": "c1",
            "ocpp_id": "CP-3",
            "connector_id": 1,
            "transaction_id": 5,
            "energy_wh": 1200.0,
            "stopped_at": "2026-01-01T00:00:00Z",
            "reason": "Local",
            "ended_by": "admin token t1",
        },
    )
    (line,) = _parsed(json_lines)
    assert line["charger"] == "CP-3" and line["topic"] == "session.stopped"
    assert "ended_by=admin token t1" in str(line["msg"])
    assert line["event"] == {
        "session_id": "s1",
        "charger_id": "c1",
        "ocpp_id": "CP-3",
        "connector_id": 1,
        "transaction_id": 5,
        "energy_wh": 1200.0,
        "stopped_at": "2026-01-01T00:00:00Z",
        "reason": "Local",
        "ended_by": "admin token t1",
    }


@sqlite_only
async def test_access_log_names_route_role_and_never_the_token(
    api: Api, json_lines: io.StringIO
) -> None:
    token = await api.token("owner")
    response = await api.client.get(
        "/api/v1/sites/" + str(uuid.uuid4()), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    await api.client.get("/healthz")
    access = [line for line in _parsed(json_lines) if line["logger"] == "chargegrid.access"]
    site, health = access
    assert site["level"] == "info" and health["level"] == "debug"  # probes: debug only
    assert site["method"] == "GET" and site["status"] == 404
    assert site["route"] == "/api/v1/sites/{site_id}" and site["role"] == "owner"
    assert isinstance(site["duration_ms"], float) and site["token_id"]
    assert token not in json_lines.getvalue()


def _value(text: str, name: str, labels: dict[str, str]) -> float | None:
    """A sample of the scraped exposition text, None if it is not there."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def _sample(text: str, name: str, labels: dict[str, str]) -> float:
    value = _value(text, name, labels)
    assert value is not None, (name, labels)
    return value


@sqlite_only
async def test_metrics_count_http_by_route_template_and_429s(db: Database) -> None:
    settings = Settings(database_url=db.url, rate_limit=0.001, rate_burst=2)
    app = build_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    labels = {"method": "GET", "route": "/api/v1/sites/{site_id}", "status": "401"}
    before = REGISTRY.get_sample_value("chargegrid_http_requests_total", labels) or 0.0
    limited = REGISTRY.get_sample_value(
        "chargegrid_http_rate_limited_total", {"bucket": "auth_failed"}
    )
    ids = [uuid.uuid4() for _ in range(3)]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for site_id in ids:
            await client.get(f"/api/v1/sites/{site_id}")
        text = (await client.get("/metrics")).text
    # Two 401s within the burst of 2, then a 429: counted by template, not by path.
    assert _sample(text, "chargegrid_http_requests_total", labels) == before + 2
    assert (
        _sample(text, "chargegrid_http_rate_limited_total", {"bucket": "auth_failed"})
        == (limited or 0.0) + 1
    )
    assert not any(str(site_id) in text for site_id in ids)


@sqlite_only
async def test_ratelimit_headers_on_every_limited_answer(db: Database) -> None:
    settings = Settings(database_url=db.url, rate_limit=0.5, rate_burst=3)
    app = build_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = [await client.get("/api/v1/sites") for _ in range(4)]
        health = await client.get("/healthz")
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    for answer in answers:
        assert answer.headers["RateLimit-Policy"] == '"default";q=3;w=6'
    remaining = [
        re.fullmatch(r'"default";r=(\d+);t=(\d+)', a.headers["RateLimit"]) for a in answers
    ]
    assert [int(m.group(1)) for m in remaining if m] == [2, 1, 0, 0]
    # t: whole seconds until the bucket is full again, at 0.5 requests/s.
    assert all(m and 1 <= int(m.group(2)) <= 6 for m in remaining)
    assert "RateLimit" not in health.headers  # not a limited route


@sqlite_only
async def test_ocpp_and_load_metrics_are_exposed(api: Api) -> None:
    count_ocpp("received", "Heartbeat", "result")
    count_ocpp("received", "NoSuchAction", "call_error", known=False)
    from chargegrid import metrics

    metrics.RUNTIME.views["site-x"] = {
        "site_id": "site-x",
        "nodes": [
            {
                "id": "site-x",
                "kind": "site",
                "phases": {
                    "l1": {"limit": 63.0, "allocated": 32.0, "measured": None, "unmanaged": 1.0},
                    "l2": {"limit": 63.0, "allocated": 16.0, "measured": 15.5, "unmanaged": 0.0},
                },
            }
        ],
    }
    try:
        text = (await api.client.get("/metrics")).text
    finally:
        metrics.RUNTIME.views.pop("site-x")
    assert (
        'chargegrid_ocpp_messages_total{action="unknown",direction="received",outcome="call_error"}'
        in text
    )
    assert "NoSuchAction" not in text
    node = {"site_id": "site-x", "node_id": "site-x", "node_kind": "site"}
    assert _sample(text, "chargegrid_load_limit_amperes", node | {"phase": "l1"}) == 63.0
    assert _sample(text, "chargegrid_load_measured_amperes", node | {"phase": "l2"}) == 15.5
    assert (
        REGISTRY.get_sample_value("chargegrid_load_measured_amperes", node | {"phase": "l1"})
        is None
    )
    assert "chargegrid_rebalances_total" in text  # the control loop's, still there


async def test_readyz_when_migrated(api: Api) -> None:
    response = await api.client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_503_on_an_unmigrated_database(tmp_path: object) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    try:
        app = build_app(Settings(database_url=db.url), db=db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    finally:
        await db.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "chargegrid db upgrade" in response.json()["detail"]


async def test_readyz_503_when_the_database_is_gone() -> None:
    # A PostgreSQL URL nobody listens on: the probe answers 503 quickly, not a hang.
    gone = Database("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    try:
        app = build_app(Settings(database_url=gone.url), db=gone)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    finally:
        await gone.dispose()
    assert response.status_code == 503
    assert "database" in response.json()["detail"]


@sqlite_only
async def test_group_commit_batches_are_timed(db: Database) -> None:
    from chargegrid.store.timed_charger_store import TimedSqlChargerStore

    def counts() -> tuple[float, float]:
        write = REGISTRY.get_sample_value("chargegrid_db_write_seconds_count") or 0.0
        durable = REGISTRY.get_sample_value("chargegrid_db_durable_seconds_count") or 0.0
        return write, durable

    before = counts()
    store = TimedSqlChargerStore(db.engine)
    assert await store.apply([]) == []
    await store.durable()
    assert counts() == (before[0] + 1, before[1] + 1)
