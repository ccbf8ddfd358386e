"""A seeded OCPP frame generator: each fuzzed station runs a :class:`Script` that keeps a
plausible charger's state (booted, transactions per connector, meter register, clock)
and asks, frame by frame, for valid traffic or one of issue 13's hostile classes,
each with what the server must answer (:class:`Expect`). The same seed gives the same
frames for the same answers."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fuzz import schema_paths as sp

PCV = "PropertyConstraintViolation"
TCV = "TypeConstraintViolation"
OCCURS = frozenset({"OccurenceConstraintViolation", "OccurrenceConstraintViolation"})  # 1.6, 2.0.1
FORMAT = frozenset({"FormationViolation", "FormatViolation"})  # 1.6, 2.0.1
SHAPE = frozenset({"ProtocolError", "RpcFrameworkError"})
MSG_TYPE = frozenset({"ProtocolError", "MessageTypeNotSupported"})
# What no frame may ever get back.
FORBIDDEN = frozenset({"InternalError"})

EDGE_TIMESTAMPS: tuple[Any, ...] = (
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59.999Z",
    "1970-01-01T00:00:00Z",
    "2100-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "0",
    "",
    "garbage",
    "2026-02-30T10:00:00Z",
    "2026-03-01T25:00:00Z",
    "2026-03-01",
    0,
    -1,
    None,
)
HUGE_INTEGERS = (2**31, 2**32 + 5, 2**63, 2**64, -(2**31) - 1, -(10**18), 10**30, -(10**30))
NON_FINITE_16 = ("NaN", "Infinity", "-Infinity", "1e309", "-1e309", "nan", "inf")
# The kinds a station draws from, with their weights; "valid" keeps the state moving.
KINDS: dict[str, int] = {
    "valid": 40,
    "resend": 8,
    "nonfinite": 5,
    "big_finite": 3,
    "timestamp": 6,
    "integer": 6,
    "extra_field": 4,
    "wrong_type": 6,
    "missing": 5,
    "long_string": 4,
    "broken": 8,
}
# Integers the store keeps in INTEGER/BIGINT columns (docs/ocpp.md "Input limits"): out
# of range, refused; in range, possibly acknowledged. Any other integer (1.6
# meterStart/meterStop) may be acknowledged, and then must read back as sent.
INT = (0, 2**31)
RANGES: dict[str, tuple[int, int]] = {
    "connectorId": INT,
    "evseId": INT,
    "seqNo": INT,
    "id": INT,
    "reservationId": (-(2**31), 2**31),
    "remoteStartId": (-(2**31), 2**31),
    "transactionId": (-(2**63), 2**63),
}


def integer_expect(action: str, name: str, value: int) -> Expect:
    # Beyond 64 bits JSON parsers give a float: "must be integer" is right too.
    refusals = frozenset({PCV, TCV}) if abs(value) >= 2**63 else frozenset({PCV})
    if name not in RANGES:
        return Expect(result=True, errors=refusals)
    start, end = (
        (1, 2**31) if (action, name) == ("StartTransaction", "connectorId") else RANGES[name]
    )
    if start <= value < end:
        return Expect(result=True, errors=refusals)
    return Expect(errors=refusals)


@dataclass(frozen=True)
class Expect:
    """What a frame must get back. ``answered`` False: nothing, ever."""

    answered: bool = True
    result: bool = False  # a CALLRESULT is right
    errors: frozenset[str] = frozenset()  # these CallError codes are right
    ids: tuple[str, ...] = ()  # unique ids the answer may carry (default: the frame's)


MUST_ACK = Expect(result=True)


@dataclass
class Frame:
    kind: str
    text: str
    unique_id: str | None
    action: str | None = None
    payload: dict[str, Any] | None = None
    expect: Expect = MUST_ACK
    # Replaying an earlier CALL (its first answer is the one to match).
    resend_of: str | None = None
    detail: str = ""

    def answer_ids(self) -> tuple[str, ...]:
        if self.expect.ids:
            return self.expect.ids
        return (self.unique_id,) if self.unique_id is not None else ()


def dumps(value: Any) -> str:
    # The standard library, not orjson: it writes integers beyond 64 bits.
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


@dataclass
class Tx:
    key: str | int | None  # 1.6: transactionId once answered; 2.0.1: its own id
    seq: int = 0
    tag: str = ""


@dataclass
class Script:
    """One station's frames. ``version`` "1.6" or "2.0.1"; ``tags`` one id tag per
    connector (a tag runs one transaction at a time)."""

    rng: random.Random
    version: str
    name: str
    tags: list[str]
    connectors: int = 2
    clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    register: int = 0
    booted: bool = False
    tx: dict[int, Tx] = field(default_factory=dict)
    last_valid: Frame | None = None
    # Transactions already open or ended: a re-sent start must not reopen one or reset
    # its seqNo (the next event would repeat a seqNo, which the server rightly takes as
    # a replay and stores nothing of).
    known_tx: set[Any] = field(default_factory=set)
    _ids: int = 0
    _tx_names: int = 0

    # -- helpers ----------------------------------------------------------------------
    def uid(self) -> str:
        self._ids += 1
        return f"{self.name}-{self._ids}"

    def now(self) -> str:
        self.clock += timedelta(seconds=1)
        return self.clock.isoformat().replace("+00:00", "Z")

    def call(self, kind: str, action: str, payload: dict[str, Any], expect: Expect) -> Frame:
        uid = self.uid()
        return Frame(kind, dumps([2, uid, action, payload]), uid, action, payload, expect)

    # -- the next frame ---------------------------------------------------------------
    def next_frame(self) -> Frame:
        if not self.booted:
            return self.call("valid", "BootNotification", self.boot(), MUST_ACK)
        kinds, weights = zip(*KINDS.items(), strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        if kind == "resend" and self.last_valid is not None:
            return self.resend(self.last_valid)
        if kind == "broken":
            return self.broken()
        action, payload = self.valid_message()
        if kind in ("valid", "resend"):
            frame = self.call("valid", action, payload, MUST_ACK)
            self.last_valid = frame
            return frame
        hostile = getattr(self, f"hostile_{kind}")(action, payload)
        if hostile is None:  # nothing of that kind fits this message: send it valid
            frame = self.call("valid", action, payload, MUST_ACK)
            self.last_valid = frame
            return frame
        return hostile  # type: ignore[no-any-return]

    def resend(self, original: Frame) -> Frame:
        """The same CALL again (its answer was lost): same id or a new one."""
        assert original.action is not None and original.payload is not None
        uid = original.unique_id if self.rng.random() < 0.5 else self.uid()
        assert uid is not None
        text = dumps([2, uid, original.action, original.payload])
        return Frame(
            "resend",
            text,
            uid,
            original.action,
            original.payload,
            MUST_ACK,
            resend_of=original.unique_id,
        )

    # -- valid traffic ----------------------------------------------------------------
    def boot(self) -> dict[str, Any]:
        if self.version == "1.6":
            return {"chargePointVendor": "Fuzz", "chargePointModel": "F1"}
        return {"chargingStation": {"vendorName": "Fuzz", "model": "F2"}, "reason": "PowerUp"}

    def valid_message(self) -> tuple[str, dict[str, Any]]:
        connector = self.rng.randint(1, self.connectors)
        running = self.tx.get(connector)
        roll = self.rng.random()
        if roll < 0.04:
            return "BootNotification", self.boot()
        if roll < 0.10:
            return "Heartbeat", {}
        if roll < 0.25:
            return "StatusNotification", self.status(self.rng.randint(0, self.connectors))
        if roll < 0.32:
            return "Authorize", self.authorize(self.tags[connector - 1])
        if running is None or running.key is None:
            if roll < 0.55:
                return self.start(connector)
            return "MeterValues", self.meter_values(connector, None)
        if roll < 0.85:
            return self.progress(connector, running)
        return self.stop(connector, running)

    def status(self, connector: int) -> dict[str, Any]:
        if self.version == "1.6":
            states = ("Available", "Preparing", "Charging", "SuspendedEV", "Finishing")
            return {
                "connectorId": connector,
                "errorCode": "NoError",
                "status": self.rng.choice(states),
                "timestamp": self.now(),
            }
        states = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")
        return {
            "timestamp": self.now(),
            "connectorStatus": self.rng.choice(states),
            "evseId": max(connector, 1),
            "connectorId": 1,
        }

    def authorize(self, tag: str) -> dict[str, Any]:
        if self.version == "1.6":
            return {"idTag": tag}
        return {"idToken": {"idToken": tag, "type": "ISO14443"}}

    def reading(self) -> dict[str, Any]:
        self.register += self.rng.randint(1, 50)
        stamp = self.now()
        if self.version == "1.6":
            values = [
                {
                    "value": str(self.register),
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                }
            ]
            if self.rng.random() < 0.5:
                values.append(
                    {
                        "value": f"{self.rng.randint(0, 320) / 10}",
                        "measurand": "Current.Import",
                        "phase": "L1",
                        "unit": "A",
                    }
                )
            return {"timestamp": stamp, "sampledValue": values}
        sampled: list[dict[str, Any]] = [
            {
                "value": self.register,
                "measurand": "Energy.Active.Import.Register",
                "unitOfMeasure": {"unit": "Wh"},
            }
        ]
        if self.rng.random() < 0.5:
            sampled.append(
                {
                    "value": self.rng.randint(0, 320) / 10,
                    "measurand": "Current.Import",
                    "phase": "L1",
                }
            )
        return {"timestamp": stamp, "sampledValue": sampled}

    def meter_values(self, connector: int, tx: Tx | None) -> dict[str, Any]:
        if self.version == "1.6":
            payload: dict[str, Any] = {"connectorId": connector, "meterValue": [self.reading()]}
            if tx is not None:
                payload["transactionId"] = tx.key
            return payload
        return {"evseId": connector, "meterValue": [self.reading()]}

    def start(self, connector: int) -> tuple[str, dict[str, Any]]:
        tag = self.tags[connector - 1]
        if self.version == "1.6":
            self.register += self.rng.randint(1, 50)
            return "StartTransaction", {
                "connectorId": connector,
                "idTag": tag,
                "meterStart": self.register,
                "timestamp": self.now(),
            }
        self._tx_names += 1
        name = f"{self.name}-t{self._tx_names}"
        return "TransactionEvent", {
            "eventType": "Started",
            "timestamp": self.now(),
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": name, "chargingState": "Charging"},
            "idToken": {"idToken": tag, "type": "ISO14443"},
            "evse": {"id": connector, "connectorId": 1},
            "meterValue": [self.reading()],
        }

    def progress(self, connector: int, tx: Tx) -> tuple[str, dict[str, Any]]:
        if self.version == "1.6":
            return "MeterValues", self.meter_values(connector, tx)
        return "TransactionEvent", self.event("Updated", tx, "MeterValuePeriodic")

    def stop(self, connector: int, tx: Tx) -> tuple[str, dict[str, Any]]:
        if self.version == "1.6":
            payload: dict[str, Any] = {
                "transactionId": tx.key,
                "meterStop": self.register + self.rng.randint(0, 50),
                "timestamp": self.now(),
                "reason": "Local",
                "idTag": tx.tag,
            }
            self.register = payload["meterStop"]
            if self.rng.random() < 0.5:
                payload["transactionData"] = [self.reading()]
            return "StopTransaction", payload
        event = self.event("Ended", tx, "EVDeparted")
        event["transactionInfo"]["stoppedReason"] = "EVDisconnected"
        return "TransactionEvent", event

    def event(self, kind: str, tx: Tx, trigger: str) -> dict[str, Any]:
        return {
            "eventType": kind,
            "timestamp": self.now(),
            "triggerReason": trigger,
            "seqNo": tx.seq + 1,
            "transactionInfo": {"transactionId": tx.key, "chargingState": "Charging"},
            "meterValue": [self.reading()],
        }

    def acknowledged(self, frame: Frame, answer: dict[str, Any]) -> None:
        """Move the state on after a CALLRESULT (whatever kind the frame was)."""
        p = frame.payload
        if p is None or frame.action is None:
            return
        if frame.action == "BootNotification":
            self.booted = True
        elif frame.action == "StartTransaction":
            connector = p.get("connectorId")
            tx_id = answer.get("transactionId")
            fits = isinstance(connector, int) and connector in range(1, self.connectors + 1)
            if fits and tx_id not in self.known_tx:
                self.known_tx.add(tx_id)
                self.tx[connector] = Tx(tx_id, tag=p.get("idTag", ""))
        elif frame.action == "StopTransaction":
            for connector, tx in list(self.tx.items()):
                if tx.key == p.get("transactionId"):
                    del self.tx[connector]
        elif frame.action == "TransactionEvent":
            name = (p.get("transactionInfo") or {}).get("transactionId")
            kind = p.get("eventType")
            if kind == "Started":
                evse = (p.get("evse") or {}).get("id")
                fits = isinstance(evse, int) and evse in range(1, self.connectors + 1)
                if fits and name not in self.known_tx:
                    self.known_tx.add(name)
                    self.tx[evse] = Tx(name, seq=int(p.get("seqNo", 0)))
                return
            for connector, tx in list(self.tx.items()):
                if tx.key == name:
                    tx.seq = max(tx.seq, int(p.get("seqNo", 0)))
                    if kind == "Ended":
                        del self.tx[connector]

    # -- hostile classes: each returns None when nothing of its kind fits -------------
    def _mutant(
        self, kind: str, action: str, payload: dict[str, Any], expect: Expect, detail: str
    ) -> Frame:
        frame = self.call(kind, action, payload, expect)
        frame.detail = detail
        return frame

    def hostile_nonfinite(self, action: str, payload: dict[str, Any]) -> Frame | None:
        paths = [leaf.path for leaf in self._leaves(action, payload) if leaf.path[-1] == "value"]
        if not paths:
            return None
        path = self.rng.choice(paths)
        bad = copy.deepcopy(payload)
        if self.version == "1.6":
            value = self.rng.choice(NON_FINITE_16)
            sp.set_at(bad, path, value)
            return self._mutant(
                "nonfinite", action, bad, Expect(errors=frozenset({PCV})), f"{path}={value}"
            )
        # 2.0.1 values are JSON numbers: NaN/Infinity/1e309 are not JSON (orjson refuses),
        # a kWh value or a multiplier that overflows once scaled is a PCV.
        choice = self.rng.randrange(3)
        if choice == 0:
            token = self.rng.choice(("NaN", "Infinity", "-Infinity", "1e309"))
            sp.set_at(bad, path, "@@")
            uid = self.uid()
            text = dumps([2, uid, action, bad]).replace('"@@"', token)
            return Frame(
                "nonfinite",
                text,
                uid,
                action,
                None,
                Expect(errors=FORMAT),
                detail=f"{path}={token}",
            )
        sampled = sp.get_at(bad, path[:-1])
        if choice == 1:
            sampled["value"] = 1e308
            sampled["unitOfMeasure"] = {"unit": "kWh"}
        else:
            sampled["unitOfMeasure"] = {"unit": "Wh", "multiplier": 400}
        return self._mutant(
            "nonfinite", action, bad, Expect(errors=frozenset({PCV})), f"{path} scaled"
        )

    def hostile_big_finite(self, action: str, payload: dict[str, Any]) -> Frame | None:
        """Finite but enormous readings and meter registers: either refused, or stored and
        readable (energy = register - meterStart must not overflow into the API)."""
        paths = [leaf.path for leaf in self._leaves(action, payload) if leaf.path[-1] == "value"]
        registers = [k for k in ("meterStart", "meterStop") if k in payload]
        if not paths and not registers:
            return None
        bad = copy.deepcopy(payload)
        big = self.rng.choice((1.7e308, -1.7e308, 1e300, 9.007199254740993e15))
        if registers and (not paths or self.rng.random() < 0.5):
            key = self.rng.choice(registers)
            value: Any = int(big)
            bad[key] = value
            detail = f"{key}={big}"
        else:
            path = self.rng.choice(paths)
            sp.set_at(bad, path, repr(big) if self.version == "1.6" else big)
            detail = f"{path}={big}"
        return self._mutant(
            "big_finite", action, bad, Expect(result=True, errors=frozenset({PCV, TCV})), detail
        )

    def hostile_timestamp(self, action: str, payload: dict[str, Any]) -> Frame | None:
        paths = [
            leaf.path
            for leaf in self._leaves(action, payload)
            if leaf.schema.get("format") == "date-time"
        ]
        if not paths:
            return None
        path = self.rng.choice(paths)
        value = self.rng.choice(EDGE_TIMESTAMPS)
        bad = copy.deepcopy(payload)
        sp.set_at(bad, path, value)
        return self._mutant(
            "timestamp", action, bad, Expect(errors=frozenset({PCV, TCV})), f"{path}={value!r}"
        )

    def hostile_integer(self, action: str, payload: dict[str, Any]) -> Frame | None:
        paths = [
            leaf.path
            for leaf in self._leaves(action, payload)
            if leaf.schema.get("type") == "integer"
        ]
        if not paths:
            return None
        path = self.rng.choice(paths)
        value = self.rng.choice(HUGE_INTEGERS)
        bad = copy.deepcopy(payload)
        sp.set_at(bad, path, value)
        expect = integer_expect(action, str(path[-1]), value)
        return self._mutant("integer", action, bad, expect, f"{path}={value}")

    def hostile_extra_field(self, action: str, payload: dict[str, Any]) -> Frame | None:
        bad = copy.deepcopy(payload)
        where = self.rng.choice(sp.objects(bad))
        sp.get_at(bad, where)[self.rng.choice(("fuzz", "x-extra", "idTag2", "__proto__"))] = 1
        return self._mutant(
            "extra_field", action, bad, Expect(errors=FORMAT), f"extra field at {where}"
        )

    def hostile_wrong_type(self, action: str, payload: dict[str, Any]) -> Frame | None:
        leaves = self._leaves(action, payload)
        if not leaves:
            return None
        leaf = self.rng.choice(leaves)
        if isinstance(leaf.value, str):
            options: list[Any] = [123, 1.5, True, None, [], {}]
        elif isinstance(leaf.value, bool):
            options = ["true", 1, None, []]
        else:
            options = ["12", "twelve", True, None, [], {"v": 1}]
        value = self.rng.choice(options)
        bad = copy.deepcopy(payload)
        sp.set_at(bad, leaf.path, value)
        return self._mutant(
            "wrong_type",
            action,
            bad,
            Expect(errors=frozenset({TCV, PCV})),
            f"{leaf.path}={value!r}",
        )

    def hostile_missing(self, action: str, payload: dict[str, Any]) -> Frame | None:
        required, _ = sp.walk(self.version, action, payload)
        if not required:
            return None
        path = self.rng.choice(required)
        bad = copy.deepcopy(payload)
        sp.delete_at(bad, path)
        return self._mutant("missing", action, bad, Expect(errors=OCCURS), f"without {path}")

    def hostile_long_string(self, action: str, payload: dict[str, Any]) -> Frame | None:
        leaves = [leaf for leaf in self._leaves(action, payload) if "maxLength" in leaf.schema]
        if not leaves:
            return None
        leaf = self.rng.choice(leaves)
        size = int(leaf.schema["maxLength"]) + self.rng.choice((1, 2, 17, 1000))
        bad = copy.deepcopy(payload)
        sp.set_at(bad, leaf.path, "L" * size)
        return self._mutant(
            "long_string",
            action,
            bad,
            Expect(errors=frozenset({PCV})),
            f"{leaf.path} of {size} characters",
        )

    def _leaves(self, action: str, payload: dict[str, Any]) -> list[sp.Leaf]:
        return sp.walk(self.version, action, payload)[1]

    # -- broken frames ----------------------------------------------------------------
    def broken(self) -> Frame:
        uid = self.uid()
        heartbeat = dumps([2, uid, "Heartbeat", {}])
        answered_as = {"1.6": "ProtocolError", "2.0.1": "RpcFrameworkError"}[self.version]
        templates: list[tuple[str, Expect]] = [
            ("{not json", Expect(errors=FORMAT, ids=("-1",))),
            ("", Expect(errors=FORMAT, ids=("-1",))),
            ("\u0000\u00ff", Expect(errors=FORMAT, ids=("-1",))),
            (heartbeat[:-3], Expect(errors=FORMAT, ids=(uid, "-1"))),
            (f'[2, "{uid}", "Heartbeat", {{}}, ]', Expect(errors=FORMAT, ids=(uid, "-1"))),
            (f'[2.0, "{uid}", "Heartbeat", {{}}]', Expect(errors=MSG_TYPE)),
            (f'[true, "{uid}", "Heartbeat", {{}}]', Expect(errors=MSG_TYPE)),
            (f'[7, "{uid}", "Heartbeat", {{}}]', Expect(errors=MSG_TYPE)),
            (f'[2, "{uid}", "Heartbeat", {{}}, "extra"]', Expect(errors=SHAPE)),
            (f'[2, "{uid}", "Heartbeat"]', Expect(errors=SHAPE)),
            (f'[2, "{uid}", 17, {{}}]', Expect(errors=SHAPE)),
            (f'[2, "{uid}", "Heartbeat", []]', Expect(errors=FORMAT)),
            (f'[2, "{"u" * 37}", "Heartbeat", {{}}]', Expect(errors=SHAPE, ids=("-1",))),
            ('[2, 42, "Heartbeat", {}]', Expect(errors=SHAPE, ids=("-1",))),
            ("[]", Expect(errors=SHAPE, ids=("-1",))),
            ("{}", Expect(errors=SHAPE, ids=("-1",))),
            ('"text"', Expect(errors=SHAPE, ids=("-1",))),
            ("17", Expect(errors=SHAPE, ids=("-1",))),
            (f'[2, "{uid}", "FuzzAction", {{}}]', Expect(errors=frozenset({"NotImplemented"}))),
            (
                f'[2, "{uid}", "Reset", {{"type": "Hard"}}]',
                Expect(errors=frozenset({"NotSupported", "NotImplemented"})),
            ),
            # Replies: never answered (OCPP-J answers no CALLRESULT or CALLERROR).
            (f'[3, "{uid}", {{}}]', Expect(answered=False)),
            (f'[3, "{uid}"]', Expect(answered=False)),
            (f'[3.0, "{uid}", {{}}]', Expect(answered=False)),
            (f'[3, "{uid}", {{}}, 1, 2]', Expect(answered=False)),
            (f'[4, "{uid}", "GenericError", "", {{}}]', Expect(answered=False)),
            (f'[4, "{uid}", "InternalError"]', Expect(answered=False)),
            (f'[4, "{uid}"]', Expect(answered=False)),
            (f'[3, "{uid}", {{"cut', Expect(answered=False)),
            (f'[4, "{uid}", "GenericError", "x", {{}}, 9]', Expect(answered=False)),
        ]
        text, expect = self.rng.choice(templates)
        if expect.errors == SHAPE:  # this version's spelling of a wrong-shape frame
            expect = Expect(errors=frozenset({answered_as}), ids=expect.ids)
        action = "Heartbeat" if '"Heartbeat"' in text else None
        return Frame("broken", text, uid, action, None, expect, detail=text[:80])
