"""One fuzzed station on a real socket: it sends its script's frames one at a time,
checks each answer against the frame's :class:`Expect`, feeds acknowledged writes to its
ledger, and, when doomed, is deleted through the REST API halfway and must then get
no acknowledgement for anything it sends."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import websockets

from tests.fuzz.generator import FORBIDDEN, MUST_ACK, Frame, Script, dumps
from tests.fuzz.ledger import Ledger

# A liveness bound for "every CALL is answered", not a speed check: an answer later
# than this counts as never coming.
ANSWER_DEADLINE_S = 30.0
# Other versions' spellings of the same codes: a 1.6 answer must use 1.6's words.
NOT_IN = {
    "1.6": frozenset(
        {
            "FormatViolation",
            "OccurrenceConstraintViolation",
            "RpcFrameworkError",
            "MessageTypeNotSupported",
        }
    ),
    "2.0.1": frozenset({"FormationViolation", "OccurenceConstraintViolation", "ProtocolError"}),
}
# Answers a resend must repeat exactly (a lost answer is asked for again).
SAME_ANSWER = frozenset({"StartTransaction", "StopTransaction", "TransactionEvent", "MeterValues"})
HISTORY = 40


@dataclass
class Tally:
    """Counts and failures of a whole run (shared by its stations)."""

    seed: int
    frames: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_answer: Counter[str] = field(default_factory=Counter)
    by_kind_answer: Counter[tuple[str, str]] = field(default_factory=Counter)
    server_calls: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def fail(self, station: str, what: str, history: deque[str]) -> None:
        if len(self.failures) < 200:
            frames = "\n    ".join(history)
            self.failures.append(
                f"[{station}, seed {self.seed}] {what}\n  frames sent:\n    {frames}"
            )


@dataclass
class Budget:
    left: int

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


class Station:
    def __init__(
        self,
        url: str,
        script: Script,
        ledger: Ledger,
        tally: Tally,
        budget: Budget,
        delete: Any = None,
        delete_behind: Any = None,
        doom_after: int | None = None,
    ) -> None:
        self.url = url
        self.script = script
        self.ledger = ledger
        self.tally = tally
        self.budget = budget
        self.delete = delete  # an async callable: DELETE /chargers/{id} through the API
        # ... or its row deleted behind the server's back (another node, no event): the
        # socket stays open and every write must be refused.
        self.delete_behind = delete_behind
        self.doom_after = doom_after
        self.history: deque[str] = deque(maxlen=HISTORY)
        self.answers: dict[str, Any] = {}
        self.ws: Any = None

    @property
    def name(self) -> str:
        return self.script.name

    def fail(self, what: str) -> None:
        self.tally.fail(self.name, what, self.history)

    async def run(self) -> None:
        subprotocol = "ocpp1.6" if self.script.version == "1.6" else "ocpp2.0.1"
        async with websockets.connect(self.url, subprotocols=[subprotocol]) as ws:
            self.ws = ws
            sent = 0
            while self.budget.take():
                if self.doom_after is not None and sent >= self.doom_after:
                    await self.doomed()
                    return
                frame = self.script.next_frame()
                sent += 1
                if not await self.exchange(frame):
                    return
            # A last CALL flushes out any stray answer to a frame that must not get one.
            probe = self.script.call("valid", "Heartbeat", {}, MUST_ACK)
            await self.exchange(probe)

    async def exchange(self, frame: Frame) -> bool:
        self.history.append(f"{frame.kind}: {frame.text[:300]}")
        self.tally.frames += 1
        self.tally.by_kind[frame.kind] += 1
        try:
            await self.ws.send(frame.text)
            answer = await self.answer(frame) if frame.expect.answered else None
        except (websockets.ConnectionClosed, TimeoutError) as exc:
            self.fail(f"no answer to {frame.kind} frame ({type(exc).__name__}: {exc})")
            return False
        self.judge(frame, answer)
        return True

    async def answer(self, frame: Frame) -> list[Any]:
        ids = frame.answer_ids()
        async with asyncio.timeout(ANSWER_DEADLINE_S):
            while True:
                message = orjson.loads(await self.ws.recv())
                if message[0] == 2:  # the server's own CALL: not ours to test
                    self.tally.server_calls[message[2]] += 1
                    await self.ws.send(dumps([4, message[1], "NotSupported", "", {}]))
                    continue
                if message[1] in ids:
                    return message  # type: ignore[no-any-return]
                self.fail(f"answer to no pending CALL: {message}")

    def judge(self, frame: Frame, answer: list[Any] | None) -> None:
        label = "no answer" if answer is None else "CALLRESULT" if answer[0] == 3 else answer[2]
        self.tally.by_answer[label] += 1
        self.tally.by_kind_answer[(frame.kind, label)] += 1
        if answer is None:
            return
        expect = frame.expect
        if answer[0] == 3:
            if not expect.result:
                self.fail(f"{frame.kind} frame acknowledged ({frame.detail}): {answer}")
            if frame.payload is not None and frame.action is not None:
                self.acknowledged(frame, answer[2])
            return
        code = answer[2]
        allowed = expect.errors - NOT_IN[self.script.version]
        if code in FORBIDDEN or code not in allowed:
            self.fail(
                f"{frame.kind} frame ({frame.detail}) answered {answer}; allowed {sorted(allowed)}"
            )

    def acknowledged(self, frame: Frame, payload: dict[str, Any]) -> None:
        assert frame.action is not None and frame.payload is not None
        if frame.resend_of is not None and frame.action in SAME_ANSWER:
            first = self.answers.get(frame.resend_of)
            if first is not None and first != payload:
                self.fail(f"resend answered {payload}, first answer {first}")
        elif frame.unique_id is not None:
            self.answers[frame.unique_id] = payload
        self.script.acknowledged(frame, payload)
        self.ledger.acknowledged(frame.action, frame.payload, payload)

    async def doomed(self) -> None:
        """Deleted through the API while connected: from then on nothing it sends may be
        acknowledged (refused with SecurityError, or the socket closes), and it cannot
        connect again."""
        if self.delete_behind is not None:
            await self.delete_behind()
        else:
            await self.delete()
        for _ in range(6):
            action, payload = self.script.valid_message()
            frame = self.script.call("deleted", action, payload, MUST_ACK)
            self.history.append(f"deleted: {frame.text[:300]}")
            self.tally.frames += 1
            self.tally.by_kind["deleted"] += 1
            try:
                await self.ws.send(frame.text)
                answer = await self.answer(frame)
            except websockets.ConnectionClosed:
                self.tally.by_answer["closed"] += 1
                self.tally.by_kind_answer[("deleted", "closed")] += 1
                break
            except TimeoutError:
                self.fail("deleted charger: no answer and the socket stayed open")
                return
            label = "CALLRESULT" if answer[0] == 3 else answer[2]
            self.tally.by_answer[label] += 1
            self.tally.by_kind_answer[("deleted", label)] += 1
            if answer[0] == 3 and action != "Authorize":
                self.fail(f"deleted charger's {action} acknowledged: {answer}")
            elif answer[0] == 4 and answer[2] != "SecurityError":
                self.fail(f"deleted charger's {action} answered {answer}")
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.close()
        subprotocol = "ocpp1.6" if self.script.version == "1.6" else "ocpp2.0.1"
        try:
            async with websockets.connect(self.url, subprotocols=[subprotocol]):
                self.fail("a deleted charger connected again")
        except websockets.InvalidStatus as exc:
            if exc.response.status_code != 404:
                self.fail(f"a deleted charger's handshake answered {exc.response.status_code}")
