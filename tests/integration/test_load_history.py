"""``GET /sites|circuits|sessions/{id}/load/history`` on SQLite and PostgreSQL, over rows
the recorder wrote (on a clock a few minutes in the past) and the job downsampled."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from chargegrid.api.schemas.history import NodeHistory, SessionHistory
from chargegrid.services.history_job import HistoryJob
from chargegrid.services.history_recorder import HistoryRecorder
from chargegrid.services.history_settings import HistorySettings
from chargegrid.store.history_store import SqlHistoryStore
from chargegrid.store.models import ChargingSession
from chargegrid.store.uow import UnitOfWork
from tests.integration.conftest import Api, assert_problem


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def node(node_id: str, kind: str, limit: float, measured: float | None) -> dict[str, Any]:
    return {
        "id": node_id,
        "kind": kind,
        "phases": {
            p: {"limit": limit, "allocated": 16.0, "measured": measured, "unmanaged": 0.5}
            for p in ("l1", "l2", "l3")
        },
    }


async def make_session(api: Api, charger_id: str) -> str:
    async with UnitOfWork(api.db) as uow:
        session = ChargingSession(
            charger_id=uuid.UUID(charger_id),
            evse_number=1,
            connector_id=1,
            transaction_id=await uow.sessions.allocate_transaction_id(),
            id_tag="TAG1",
            meter_start=0,
            started_at=datetime.now(UTC),
            energy_wh=0,
            authorization_status="Accepted",
        )
        uow.sessions.add(session)
        await uow.sessions.flush()
        session_id = str(session.id)
        await uow.commit()
    return session_id


class Fixture:
    def __init__(self, api: Api) -> None:
        self.api = api
        # 10 minutes ago, on a minute boundary, so buckets are easy to name.
        now = int(time.time())
        self.t0 = now - 600 - now % 60
        self.clock = Clock(self.t0)
        self.store = SqlHistoryStore(api.db.engine)
        self.recorder = HistoryRecorder(self.store, HistorySettings(), self.clock)

    async def setup(self) -> None:
        api = self.api
        self.site = (await api.site(max_current=63))["id"]
        self.circuit = (await api.circuit(self.site, max_current=32))["id"]
        charger = (await api.charger(self.site))["id"]
        self.session = await make_session(api, charger)

    def view(self, measured: float, power: float) -> None:
        self.recorder.offer(
            "site.load_changed",
            {
                "site_id": self.site,
                "nodes": [
                    node(self.site, "site", 63.0, None),
                    node(self.circuit, "circuit", 32.0, measured),
                ],
                "sessions": [
                    {
                        "session_id": self.session,
                        "limit": 16.0,
                        "phases": 3,
                        "measured": {"l1": measured, "l2": measured, "l3": measured},
                    }
                ],
            },
        )
        self.recorder.offer("session.updated", {"session_id": self.session, "power_w": power})

    async def record(self, steps: list[tuple[int, float]]) -> None:
        """(seconds after t0, measured amps) — each written at its second."""
        for second, measured in steps:
            self.clock.now = self.t0 + second
            self.view(measured, measured * 690)
            await self.recorder.flush()


async def test_site_circuit_and_session_history_at_full_resolution(api: Api) -> None:
    f = Fixture(api)
    await f.setup()
    await f.record([(0, 10.0), (10, 20.0), (20, 20.0), (30, 6.0)])
    params = {"from": iso(f.t0), "to": iso(f.t0 + 40), "step": 20}
    body = await api.ok("GET", f"/circuits/{f.circuit}/load/history", params=params)
    NodeHistory.model_validate(body)
    assert body["kind"] == "circuit" and body["site_id"] == f.site
    assert body["step"] == 20 and body["resolution"] == 1
    first, second = body["points"]
    assert first["coverage_s"] == 20
    assert first["phases"]["l1"] == {
        "limit": 32.0,
        "allocated": 16.0,
        "measured": 15.0,
        "unmanaged": 0.5,
    }
    assert first["max"]["l2"]["measured"] == 20.0
    assert second["phases"]["l3"]["measured"] == 13.0  # 20 A for 10 s, 6 A for 10 s

    site = await api.ok("GET", f"/sites/{f.site}/load/history", params=params)
    assert site["points"][0]["phases"]["l1"]["measured"] is None  # no meter on the site
    assert site["points"][0]["phases"]["l1"]["limit"] == 63.0

    session = await api.ok("GET", f"/sessions/{f.session}/load/history", params=params)
    SessionHistory.model_validate(session)
    point = session["points"][0]
    assert point["limit"] == 16.0 and point["phases"] == 3.0
    assert point["measured"] == {"l1": 15.0, "l2": 15.0, "l3": 15.0}
    assert point["power_w"] == 10_350.0 and point["max"]["power_w"] == 13_800.0


async def test_downsampled_minutes_and_the_tail_from_full_resolution(api: Api) -> None:
    f = Fixture(api)
    await f.setup()
    await f.record([(0, 8.0), (90, 16.0), (150, 16.0), (210, 16.0), (270, 16.0)])
    job = HistoryJob(f.store, HistorySettings(), Clock(f.t0 + 190))
    await job.run_once()  # minutes 0..2 downsampled; 3.. only at full resolution
    params = {"from": iso(f.t0), "to": iso(f.t0 + 300), "step": 60}
    body = await api.ok("GET", f"/circuits/{f.circuit}/load/history", params=params)
    assert body["resolution"] == 60
    measured = [p["phases"]["l1"]["measured"] for p in body["points"]]
    # Nothing was written at 60 s (no flush then), so the 8 A of second 0 stands for
    # hold_s (66 s): 6 s into minute 1, then 16 A for its last 30 s.
    assert measured == [8.0, round((8 * 6 + 16 * 30) / 36, 2), 16.0, 16.0, 16.0]
    assert [p["coverage_s"] for p in body["points"]][1] == 36  # 6 s held, 30 s new


async def test_a_step_without_from_and_to_gives_the_last_hour(api: Api) -> None:
    f = Fixture(api)
    await f.setup()
    await f.record([(0, 10.0)])
    body = await api.ok("GET", f"/sites/{f.site}/load/history")
    assert body["step"] == 5  # 3600 s / 720 points
    start = datetime.fromisoformat(body["from"]).timestamp()
    end = datetime.fromisoformat(body["to"]).timestamp()
    assert 3600 <= end - start < 3605
    assert len(body["points"]) >= 1


async def test_bad_ranges_and_steps_are_422_naming_the_field(api: Api) -> None:
    site = (await api.site())["id"]
    path = f"/sites/{site}/load/history"
    now = time.time()
    response = await api.call("GET", path, params={"from": iso(now), "to": iso(now - 60)})
    assert_problem(response, 422, "to")
    response = await api.call("GET", path, params={"step": 0})
    assert_problem(response, 422, "step")
    response = await api.call(
        "GET", path, params={"from": iso(now - 86_000), "to": iso(now), "step": 1}
    )
    assert_problem(response, 422, "step")
    assert "at most 5000" in response.text
    response = await api.call("GET", path, params={"from": "2026-01-01T00:00:00"})
    assert_problem(response, 422, "from")  # no time zone
    response = await api.call("GET", path, params={"from": "yesterday"})
    assert_problem(response, 422, "from")


async def test_a_step_finer_than_what_is_kept_is_raised_to_it(api: Api) -> None:
    site = (await api.site())["id"]
    now = time.time()
    params = {"from": iso(now - 3 * 86_400), "to": iso(now - 2 * 86_400), "step": 10}
    body = await api.ok("GET", f"/sites/{site}/load/history", params=params)
    assert body["step"] == 60 and body["resolution"] == 60 and body["points"] == []


async def test_history_is_scoped_like_the_site(api: Api) -> None:
    f = Fixture(api)
    await f.setup()
    other = (await api.site())["id"]
    for path in (
        f"/sites/{f.site}/load/history",
        f"/circuits/{f.circuit}/load/history",
        f"/sessions/{f.session}/load/history",
    ):
        response = await api.call("GET", path, role="viewer", sites=[uuid.UUID(other)])
        assert_problem(response, 404)
        assert (await api.call("GET", path, role="viewer", sites=[uuid.UUID(f.site)])).is_success
    for path in (
        f"/sites/{uuid.uuid4()}/load/history",
        f"/circuits/{uuid.uuid4()}/load/history",
        f"/sessions/{uuid.uuid4()}/load/history",
    ):
        assert_problem(await api.call("GET", path), 404)
