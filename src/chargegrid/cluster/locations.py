"""Where each charger is: charger → (node id, connection epoch), cluster-wide.

A KV bucket ``<cluster>_chargers`` (no TTL), key = the charger's OCPP id, value = the
node holding its socket and the OCPP version of that connection. The **epoch** is the
entry's KV revision: unique and rising for the whole bucket, so every new connection,
on any node, has a higher one than every connection before it.

- A node that accepts a connection writes the entry (the newest connection wins) and
  remembers its epoch; a command must name that epoch or the node refuses it
  (``routing``), so a command meant for an older connection is never delivered to a
  newer one by accident.
- A node whose connection ends deletes the entry only if it still holds that epoch
  (a compare-and-delete on the revision): a charger that already reconnected to another
  node keeps that node's entry.
- Written from the bus's local ``charger.connected``/``charger.disconnected`` events,
  in order, by one task; a connection that is gone by the time its event is handled
  writes nothing.
- When NATS comes back after an outage (a restarted NATS may have lost the bucket), the
  node writes again every charger it holds whose entry is missing or not its own.
- At start-up, a node deletes the entries its previous life left (same node id), and
  says which chargers those were (they are not connected any more).

Every node keeps a mirror of the bucket (a KV watch), so routing a command costs no KV
read: a wave of a thousand profiles looks a thousand chargers up in memory. The mirror
lags a write by the time NATS takes to deliver it; a command sent on a stale entry is
refused by the node it reaches (nothing is sent), and the router then reads the bucket
itself (``lookup(..., fresh=True)``). A charger the mirror does not know is read too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from nats.js.errors import APIError, KeyNotFoundError

from chargegrid import events as ev
from chargegrid.bus.memory import EventBus
from chargegrid.cluster.nats_link import NatsLink

if TYPE_CHECKING:
    from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

BUCKET = "chargers"
RECONNECT_S = 0.5  # before watching again after the mirror's watch ended
REASSERT_TRIES = 60  # after a reconnect, every RECONNECT_S: half a minute


@dataclass(frozen=True, slots=True)
class Location:
    ocpp_id: str
    node_id: str
    epoch: int
    ocpp_version: str | None


class ChargerLocations:
    """This node's side of the location registry. ``holds(ocpp_id)``: does this process
    still have a connection of that charger (``CommandGateway.is_connected``)."""

    def __init__(self, link: NatsLink, bus: EventBus, holds: Callable[[str], bool]) -> None:
        self.link = link
        self.bus = bus
        self.holds = holds
        self._epochs: dict[str, int] = {}  # the chargers this node holds, by epoch
        self._versions: dict[str, str | None] = {}
        self._task: asyncio.Task[None] | None = None
        self._mirror: dict[str, Location] = {}  # every entry, as the watch last said
        self._mirroring: asyncio.Task[None] | None = None
        self._watcher: Any = None
        self._subscription = bus.subscribe(
            (ev.CHARGER_CONNECTED, ev.CHARGER_DISCONNECTED), maxsize=1_000_000, local_only=True
        )

    async def start(self) -> list[str]:
        """Bind the bucket and follow this node's connections; the chargers whose
        entries this node's previous life left behind (deleted now)."""
        await self._bucket()  # made now if this is the cluster's first node
        left = await self._forget_previous_life()
        self._task = asyncio.create_task(self._follow(), name="charger-locations")
        self._mirroring = asyncio.create_task(self._mirror_forever(), name="locations-mirror")
        self.link.on_reconnect(self._reconnected)
        return left

    async def stop(self) -> None:
        """Stop following; the entries of chargers still held go (their sockets close
        with the node and they reconnect elsewhere)."""
        self._subscription.close()
        for task in (self._task, self._mirroring):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for ocpp_id in list(self._epochs):
            with contextlib.suppress(Exception):
                await self._release(ocpp_id)

    def epoch_of(self, ocpp_id: str) -> int | None:
        """The epoch of this node's connection of ``ocpp_id``, if it holds one."""
        return self._epochs.get(ocpp_id)

    def version_of(self, ocpp_id: str) -> str | None:
        """The OCPP version of this node's connection of ``ocpp_id``."""
        return self._versions.get(ocpp_id)

    def held(self) -> int:
        return len(self._epochs)

    async def lookup(self, ocpp_id: str, *, fresh: bool = False) -> Location | None:
        """The charger's entry (None: not connected anywhere): from the mirror where it
        has one, else (or ``fresh``) as the bucket has it now."""
        if not fresh:
            mirrored = self._mirror.get(ocpp_id)
            if mirrored is not None:
                return mirrored
        try:
            entry = await (await self._bucket()).get(ocpp_id)
        except KeyNotFoundError:
            return None
        if not entry.value or entry.revision is None:
            return None
        data = orjson.loads(entry.value)
        return Location(ocpp_id, data["node"], entry.revision, data.get("ocpp_version"))

    async def release_if_superseded(self, ocpp_id: str) -> bool:
        """This node's connection of ``ocpp_id`` ended: release its entry, and say
        whether a newer connection (on another node) had replaced it already, in which
        case its ending changes nothing for the cluster."""
        if self.holds(ocpp_id):  # a newer connection here replaced it: not an ending
            return False
        epoch = self._epochs.get(ocpp_id)
        current = await self.lookup(ocpp_id, fresh=True)
        if (
            current is not None
            and current.node_id != self.link.node_id
            and (epoch is None or current.epoch > epoch)
        ):
            self._epochs.pop(ocpp_id, None)
            self._versions.pop(ocpp_id, None)
            return True
        return False

    async def reassert(self) -> None:
        """After a NATS outage: every charger this node holds has its entry again (a
        NATS restarted without its data lost them). An entry another node wrote stays:
        that node's connection came later than ours."""
        for ocpp_id in list(self._epochs):
            if not self.holds(ocpp_id):
                continue
            found = await self.lookup(ocpp_id, fresh=True)
            if found is None or (
                found.node_id == self.link.node_id and found.epoch != self._epochs.get(ocpp_id)
            ):
                await self._claim(ocpp_id, self._versions.get(ocpp_id))

    async def _reconnected(self) -> None:
        if self._watcher is not None:  # a restarted NATS may have lost what it watched
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        # JetStream may answer a moment after the connection is back: try for a while.
        for _ in range(REASSERT_TRIES):
            try:
                await self.reassert()
                return
            except Exception as exc:
                log.debug("locations not written again yet: %s", exc)
                await asyncio.sleep(RECONNECT_S)
        log.warning("could not write the held chargers' locations again after a reconnect")

    async def _mirror_forever(self) -> None:
        """Follow the bucket into ``_mirror``; watch again whenever the watch ends (a
        reconnect stops it: the mirror is refilled from what the bucket holds then)."""
        while True:
            try:
                self._watcher = await (await self._bucket()).watchall()
                self._mirror.clear()  # refilled below; lookups read the bucket meanwhile
                async for entry in self._watcher:
                    if entry is not None:
                        self._mirror_entry(entry)
            except Exception as exc:  # NATS away: again once it is back
                log.debug("locations mirror: %s", exc)
            self._mirror.clear()
            await asyncio.sleep(RECONNECT_S)

    def _mirror_entry(self, entry: Any) -> None:
        if entry.operation in ("DEL", "PURGE") or not entry.value or not entry.revision:
            self._mirror.pop(entry.key, None)
            return
        data = orjson.loads(entry.value)
        self._mirror[entry.key] = Location(
            entry.key, data["node"], entry.revision, data.get("ocpp_version")
        )

    async def _bucket(self) -> KeyValue:
        # Through the link each time: after a NATS restart it binds (or makes) it anew.
        return await self.link.bucket(BUCKET)

    async def _follow(self) -> None:
        async for event in self._subscription:
            ocpp_id = str(event.payload.get("ocpp_id", ""))
            if not ocpp_id:
                continue
            try:
                if event.topic == ev.CHARGER_CONNECTED:
                    if self.holds(ocpp_id):  # gone already: nothing to say
                        await self._claim(ocpp_id, event.payload.get("ocpp_version"))
                elif not self.holds(ocpp_id):  # not replaced by a newer connection here
                    await self._release(ocpp_id)
            except Exception:  # NATS away: reassert() writes it once it is back
                log.exception("%s: location not recorded", ocpp_id)

    async def _claim(self, ocpp_id: str, version: str | None) -> None:
        value: dict[str, Any] = {
            "node": self.link.node_id,
            "ocpp_version": version,
            "connected_at": datetime.now(UTC).isoformat(),
        }
        # Remembered once the put returns its revision: no command can name an epoch
        # before the bucket shows it.
        self._versions[ocpp_id] = version
        self._epochs[ocpp_id] = await (await self._bucket()).put(ocpp_id, orjson.dumps(value))

    async def _release(self, ocpp_id: str) -> None:
        epoch = self._epochs.pop(ocpp_id, None)
        self._versions.pop(ocpp_id, None)
        if epoch is None:
            return
        try:
            await (await self._bucket()).delete(ocpp_id, last=epoch)
        except APIError as exc:  # a newer connection's entry (another node's): keep it
            log.debug("%s: entry not ours any more (%s)", ocpp_id, exc)

    async def _forget_previous_life(self) -> list[str]:
        kv = await self._bucket()
        watcher = await kv.watchall(ignore_deletes=True)
        left: list[tuple[str, int]] = []
        async for entry in watcher:
            if entry is None:  # the end of what the bucket holds now
                break
            if entry.value and orjson.loads(entry.value).get("node") == self.link.node_id:
                left.append((entry.key, entry.revision or 0))
        await watcher.stop()  # type: ignore[no-untyped-call]
        for key, revision in left:
            with contextlib.suppress(APIError):
                await kv.delete(key, last=revision)
        if left:
            log.info("removed %d charger locations this node's previous run left", len(left))
        return [key for key, _ in left]
