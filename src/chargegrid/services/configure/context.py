"""What every configuration use case works with, and the PATCH helper they share."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from chargegrid.bus.memory import EventBus
from chargegrid.domain.errors import ErrorCollector, InvalidValue, NotFound
from chargegrid.domain.limits import PHASE_FIELDS, Override, OverrideWrite, apply_override_write
from chargegrid.events import CONFIG_CHANGED
from chargegrid.services.audit import ChangeTracker, actor_of, audit_rows
from chargegrid.services.auth import Principal
from chargegrid.store.event_log import add_entries
from chargegrid.store.models import AvailableCurrentOverride
from chargegrid.store.types import utcnow
from chargegrid.store.uow import UnitOfWork

T = TypeVar("T")


class _Required:
    """Marks a field that must not be reset with null."""


REQUIRED: Any = _Required()


@dataclass
class ConfigContext:
    uow: UnitOfWork
    bus: EventBus
    who: Principal
    now: datetime = field(default_factory=utcnow)
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _tracker: ChangeTracker | None = None
    _deferred: int = 0

    def __post_init__(self) -> None:
        # Watch the session from the start: the audit needs each field's value from
        # before the use case touched it (services/audit.py).
        self._tracker = ChangeTracker(self.uow.session)

    def changed(
        self,
        kind: str,
        id_: uuid.UUID,
        site_id: uuid.UUID | None,
        action: str,
        fields: Iterable[str] | None = None,
    ) -> None:
        """Queue a ``config.changed`` event; it goes out only once the commit succeeded."""
        self._pending.append(
            {
                "kind": kind,
                "id": str(id_),
                "site_id": str(site_id) if site_id else None,
                "action": action,
                "fields": sorted(fields or ()),
            }
        )

    async def commit_update(
        self, kind: str, id_: uuid.UUID, site_id: uuid.UUID | None, changed: set[str]
    ) -> None:
        """Commit an update and announce it, unless it changed nothing."""
        if changed:
            self.changed(kind, id_, site_id, "updated", changed)
            await self.commit()

    async def meter_is_on_site(self, meter_id: uuid.UUID, site_id: uuid.UUID) -> bool:
        meter = await self.uow.meters.get(meter_id)
        return meter is not None and meter.site_id == site_id

    @asynccontextmanager
    async def one_commit(self) -> AsyncIterator[None]:
        """Several use cases as one transaction: inside, their commits only flush; leaving
        without an error commits everything at once, audit entries and events included.
        (A vendor request that maps onto several of our records is all or nothing.)"""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        await self.commit()

    async def commit(self) -> None:
        if self._deferred:
            await self.uow.session.flush()  # the checks that follow see the change
            return
        if self._pending:
            # The audit entries go in the change's own transaction.
            await self.uow.session.flush()
            assert self._tracker is not None
            actor = await actor_of(self.uow.session, self.who)
            rows = audit_rows(self._pending, self._tracker.take(), actor, self.now)
            await add_entries(self.uow.session, rows)
        await self.uow.commit()
        pending, self._pending = self._pending, []
        for payload in pending:
            self.bus.publish(CONFIG_CHANGED, payload)


def assign(obj: object, data: Mapping[str, Any], defaults: Mapping[str, Any]) -> set[str]:
    """Copy the fields of ``defaults`` found in ``data`` onto ``obj``; null resets a field
    to its default (or is refused for a REQUIRED one). Returns the fields that changed."""
    errors = ErrorCollector()
    changed: set[str] = set()
    for name, default in defaults.items():
        if name not in data:
            continue
        value = data[name]
        if value is None:
            if default is REQUIRED:
                errors.add(name, "must not be null")
                continue
            value = default
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.add(name)
    errors.raise_if_any()
    return changed


def with_defaults(data: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """For a new record: every optional field at its default unless ``data`` gives it.
    (Column defaults apply only at INSERT, too late for the rules checked before it.)"""
    filled = {k: v for k, v in defaults.items() if v is not REQUIRED}
    return filled | {k: v for k, v in data.items() if v is not None or k not in filled}


OVERRIDE_FIELDS = frozenset({"available_current", *PHASE_FIELDS, "available_current_ttl_s"})


def override_of(node: AvailableCurrentOverride) -> Override:
    return Override(
        (node.available_current_l1, node.available_current_l2, node.available_current_l3),
        node.available_current_expires_at,
    )


def apply_override(
    node: AvailableCurrentOverride, data: Mapping[str, Any], now: datetime, ceiling: float
) -> set[str]:
    """Apply the override fields of ``data`` to a site or circuit; the fields that changed it."""
    given = frozenset(k for k in data if k in OVERRIDE_FIELDS)
    if not given:
        return set()
    write = OverrideWrite(
        given=given,
        available_current=data.get("available_current"),
        phase1=data.get("available_current_phase1"),
        phase2=data.get("available_current_phase2"),
        phase3=data.get("available_current_phase3"),
        ttl_s=data.get("available_current_ttl_s"),
    )
    before = override_of(node)
    after = apply_override_write(before, write, now, ceiling)
    node.available_current_l1, node.available_current_l2, node.available_current_l3 = after.phases
    node.available_current_expires_at = after.expires_at
    return set(given) if after != before else set()


def found(value: T | None, what: str) -> T:
    """The value, or NotFound naming ``what``."""
    if value is None:
        raise NotFound(f"no such {what}")
    return value


def reference_error(field_name: str, what: str) -> InvalidValue:
    return InvalidValue.of(field_name, f"no such {what}")
