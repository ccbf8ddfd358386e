"""What the server acknowledged, per charger, and the check that all of it reads back
through the REST API: sessions (one per transaction, meter_start/meter_stop as sent),
their meter values (each acknowledged sample exactly once), connector statuses (the
last one acknowledged). Session-less readings have no REST endpoint; they are read
from ``meter_value_messages``."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import select

from chargegrid.store.meter_messages import decode_samples
from chargegrid.store.ocpp_tables import meter_messages

REGISTER = "Energy.Active.Import.Register"
SampleKey = tuple[str, str | None, float, datetime]


def _utc(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC)


def samples_of(version: str, meter_value: Any) -> list[SampleKey]:
    """The samples a ``meterValue`` list (as acknowledged) must be stored as (Wh, A)."""
    out: list[SampleKey] = []
    for reading in meter_value or ():
        stamp = _utc(reading["timestamp"])
        for sampled in reading["sampledValue"]:
            value = float(sampled["value"])
            out.append((sampled.get("measurand", REGISTER), sampled.get("phase"), value, stamp))
    return out


def registers(samples: list[SampleKey]) -> list[float]:
    return [value for measurand, phase, value, _ in samples if measurand == REGISTER and not phase]


@dataclass
class ExpectedSession:
    meter_start: float | None = None
    meter_stop: float | None = None
    stopped: bool = False
    samples: Counter[SampleKey] = field(default_factory=Counter)


@dataclass
class Ledger:
    version: str
    charger_id: uuid.UUID
    sessions: dict[str | int, ExpectedSession] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=dict)
    loose: Counter[SampleKey] = field(default_factory=Counter)
    # Acknowledged for a transaction we never started: stored or not, both are fine.
    uncertain: Counter[SampleKey] = field(default_factory=Counter)
    applied: set[bytes] = field(default_factory=set)
    # What verify() read back and compared: (sessions, samples, statuses).
    checked: Counter[str] = field(default_factory=Counter)

    def acknowledged(self, action: str, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        identity = orjson.dumps([action, payload], option=orjson.OPT_SORT_KEYS)
        if identity in self.applied:  # a resend: stored once
            return
        self.applied.add(identity)
        handler = getattr(self, f"_{action}", None)
        if handler is not None:
            handler(payload, answer)

    # 1.6 -------------------------------------------------------------------------------
    def _StartTransaction(self, p: dict[str, Any], answer: dict[str, Any]) -> None:
        key = answer["transactionId"]
        self.sessions.setdefault(key, ExpectedSession(meter_start=float(p["meterStart"])))

    def _StopTransaction(self, p: dict[str, Any], answer: dict[str, Any]) -> None:
        samples = samples_of(self.version, p.get("transactionData"))
        session = self.sessions.get(p["transactionId"])
        if session is None:
            self.uncertain.update(samples)
            return
        session.samples.update(samples)
        if not session.stopped:  # a later repeat changes nothing
            session.stopped = True
            session.meter_stop = float(p["meterStop"])

    def _MeterValues(self, p: dict[str, Any], answer: dict[str, Any]) -> None:
        samples = samples_of(self.version, p["meterValue"])
        tx = p.get("transactionId")
        if tx is None:
            self.loose.update(samples)
        elif tx in self.sessions:
            self.sessions[tx].samples.update(samples)
        else:
            self.uncertain.update(samples)

    def _StatusNotification(self, p: dict[str, Any], answer: dict[str, Any]) -> None:
        if self.version == "1.6":
            self.statuses[p["connectorId"]] = p["status"]
        else:
            self.statuses[p["evseId"]] = p["connectorStatus"]

    # 2.0.1 -----------------------------------------------------------------------------
    def _TransactionEvent(self, p: dict[str, Any], answer: dict[str, Any]) -> None:
        key = p["transactionInfo"]["transactionId"]
        session = self.sessions.setdefault(key, ExpectedSession())
        samples = samples_of(self.version, p.get("meterValue"))
        session.samples.update(samples)
        found = registers(samples)
        if session.meter_start is None and found:
            session.meter_start = found[0]
        if p["eventType"] == "Ended" and not session.stopped:
            session.stopped = True
            session.meter_stop = found[-1] if found else None

    # -- read back ----------------------------------------------------------------------
    async def verify(self, stack: Any) -> list[str]:
        """Everything acknowledged, read through the API; the differences, or []."""
        problems: list[str] = []
        cid = self.charger_id
        charger = await _get(stack, f"/chargers/{cid}", problems)
        evses = await _pages(stack, f"/chargers/{cid}/evses", problems)
        shown: dict[int, str | None] = {}
        for evse in evses:
            for connector in evse["connectors"]:
                shown[evse["evse_number"]] = connector["ocpp_status"]
        if charger is not None and 0 in self.statuses:
            shown[0] = charger["ocpp_status"]
        self.checked["statuses"] += len(self.statuses)
        for number, status in self.statuses.items():
            if shown.get(number) != status:
                problems.append(
                    f"connector {number}: acknowledged {status}, shows {shown.get(number)}"
                )
        listed = await _pages(stack, f"/sessions?charger_id={cid}", problems)
        by_key: dict[str | int, dict[str, Any]] = {}
        for session in listed:
            key = (
                session["transaction_id"]
                if self.version == "1.6"
                else session["remote_transaction_id"]
            )
            if key in by_key:
                problems.append(f"transaction {key} stored twice")
            by_key[key] = session
        for key in set(by_key) - set(self.sessions):
            problems.append(f"session {key} stored but never acknowledged")
        for key, expected in self.sessions.items():
            got = by_key.get(key)
            if got is None:
                problems.append(f"acknowledged transaction {key} has no session")
                continue
            problems += _compare_session(key, expected, got)
            self.checked["sessions"] += 1
            values = await _pages(stack, f"/sessions/{got['id']}/meter-values", problems)
            stored = Counter(
                (v["measurand"], v["phase"], float(v["value"]), _utc(v["timestamp"]))
                for v in values
            )
            self.checked["samples"] += sum(stored.values())
            if stored != expected.samples:
                problems.append(
                    f"transaction {key}: meter values missing {dict(expected.samples - stored)}, "
                    f"extra {dict(stored - expected.samples)}"
                )
        problems += await self._verify_loose(stack)
        return problems

    async def _verify_loose(self, stack: Any) -> list[str]:
        query = select(meter_messages.c.samples).where(
            meter_messages.c.charger_id == self.charger_id, meter_messages.c.session_id.is_(None)
        )
        async with stack.runtime.db.engine.connect() as conn:
            rows = (await conn.execute(query)).scalars().all()
        stored: Counter[SampleKey] = Counter(
            (s.measurand, s.phase, s.value, _utc(s.timestamp))
            for row in rows
            for s in decode_samples(row)
        )
        self.checked["session-less samples"] += sum(stored.values())
        missing = self.loose - stored
        extra = stored - self.loose - self.uncertain
        if missing or extra:
            return [f"session-less readings missing {dict(missing)}, extra {dict(extra)}"]
        return []


def _compare_session(key: str | int, expected: ExpectedSession, got: dict[str, Any]) -> list[str]:
    problems = []
    if got["meter_start"] != expected.meter_start:
        problems.append(
            f"transaction {key}: meter_start {got['meter_start']} != {expected.meter_start}"
        )
    if expected.stopped:
        if got["stopped_at"] is None:
            problems.append(f"transaction {key}: stop acknowledged, session open")
        if got["meter_stop"] != expected.meter_stop:
            problems.append(
                f"transaction {key}: meter_stop {got['meter_stop']} != {expected.meter_stop}"
            )
    return problems


async def _get(stack: Any, path: str, problems: list[str]) -> Any:
    response = await stack.call("GET", path)
    if response.status_code != 200:
        problems.append(f"GET {path}: {response.status_code} {response.text[:300]}")
        return None
    return response.json()


async def _pages(stack: Any, path: str, problems: list[str]) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    joiner = "&" if "?" in path else "?"
    while True:
        page = await _get(
            stack,
            path + f"{joiner}limit=500" + (f"&cursor={quote(cursor)}" if cursor else ""),
            problems,
        )
        if page is None:
            return items
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
