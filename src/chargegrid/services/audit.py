"""The audit half of the event log: every configuration change with who made it and
each field from what to what, written in the same transaction as the change itself (a
change is never committed without its entry, nor an entry without its change).

Old values come from SQLAlchemy's attribute history, captured before every flush of
the request's session: a use case may flush (or autoflush on a query) several times
before it commits, and each flush forgets the history of what it wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from chargegrid.services.auth import Principal
from chargegrid.store.models import ApiToken

CONFIG_CHANGED = "config.changed"
SYSTEM = "system"
# Never written to the log, only that they changed.
SECRET_COLUMNS = frozenset({"password_hash", "pending_password_hash", "secret", "token_hash"})
REDACTED = "(secret)"
# Bookkeeping every write touches.
IGNORED_COLUMNS = frozenset({"updated_at", "created_at"})


@dataclass
class Change:
    """One row's fields before the first flush and after the last."""

    table: str
    action: str  # created | updated | deleted
    obj: Any
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)


class ChangeTracker:
    """Collects the changes of one session until they are written out by ``take``."""

    def __init__(self, session: AsyncSession) -> None:
        self.changes: dict[tuple[str, Any], Change] = {}
        event.listen(session.sync_session, "before_flush", self._before_flush)

    def _before_flush(self, session: Session, _context: Any, _instances: Any) -> None:
        for obj in session.new:
            self._note(obj, "created", old=False)
        for obj in session.dirty:
            self._note(obj, "updated", old=True)
        for obj in session.deleted:
            self._note(obj, "deleted", old=True)

    def _note(self, obj: Any, action: str, *, old: bool) -> None:
        table = getattr(obj, "__tablename__", None)
        if table is None:
            return
        state = inspect(obj)
        key = (table, getattr(obj, "id", None) or id(obj))
        change = self.changes.get(key)
        if change is None:
            change = self.changes[key] = Change(table, action, obj)
        elif action == "deleted":
            change.action = "deleted"
        for attr in state.mapper.column_attrs:
            name = attr.key
            if name in IGNORED_COLUMNS:
                continue
            if action == "created":
                change.new[name] = getattr(obj, name)
                continue
            if action == "deleted":
                change.old.setdefault(name, state.attrs[name].loaded_value)
                continue
            history = state.attrs[name].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            change.old.setdefault(name, before)
            change.new[name] = history.added[0] if history.added else None
        if old and change.action == "updated" and not change.new:
            del self.changes[key]  # touched, nothing changed (e.g. only updated_at)

    def take(self) -> list[Change]:
        """The changes so far (call after the last flush: a new row's defaults, its id
        among them, exist only once it is flushed)."""
        changes, self.changes = list(self.changes.values()), {}
        for change in changes:
            if change.action == "created":
                state = inspect(change.obj)
                change.new = {
                    a.key: getattr(change.obj, a.key)
                    for a in state.mapper.column_attrs
                    if a.key not in IGNORED_COLUMNS
                }
        return changes


def _plain(value: Any) -> Any:
    """A value as JSON holds it."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def field_changes(change: Change) -> dict[str, dict[str, Any]]:
    """{column: {"old": .., "new": ..}} of what really differs, secrets redacted."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(change.old.keys() | change.new.keys()):
        old, new = change.old.get(name), change.new.get(name)
        if change.action == "updated" and old == new:
            continue
        if change.action == "created" and new is None:
            continue
        if name in SECRET_COLUMNS:
            old, new = (REDACTED if old else None), (REDACTED if new else None)
        out[name] = {"old": _plain(old), "new": _plain(new)}
    return out


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str | None
    token_id: uuid.UUID | None


async def actor_of(session: AsyncSession, who: Principal | None) -> Actor:
    """The token's name (its id when it has none) and role; ``system`` without a token
    (the server's own changes, a CLI with direct database access)."""
    if who is None:
        return Actor(SYSTEM, None, None)
    role = who.role.value
    if who.token_id is None:
        return Actor(SYSTEM, role, None)
    name = await session.scalar(select(ApiToken.name).where(ApiToken.id == who.token_id))
    return Actor(name or f"token {who.token_id}", role, who.token_id)


def audit_rows(
    pending: Sequence[Mapping[str, Any]], changes: Sequence[Change], actor: Actor, at: datetime
) -> list[dict[str, Any]]:
    """One event-log row per announced change (``ConfigContext.changed``), with the
    field changes of its row; rows changed alongside it (an EVSE's connectors, a
    circuit's children) go in its ``related``."""
    by_id = {str(getattr(c.obj, "id", "")): c for c in changes}
    claimed: set[str] = set()
    rows: list[dict[str, Any]] = []
    datas: list[dict[str, Any]] = []
    for item in pending:
        own = by_id.get(str(item.get("id")))
        data: dict[str, Any] = {
            "kind": item.get("kind"),
            "id": item.get("id"),
            "action": item.get("action"),
            "fields": list(item.get("fields") or ()),
        }
        if own is not None:
            claimed.add(str(item.get("id")))
            data["changes"] = field_changes(own)
            name = own.new.get("name", own.old.get("name"))
            if name is not None:
                data["name"] = name
        charger_id = _charger_of(item, own)
        datas.append(data)
        rows.append(
            {
                "at": at,
                "type": CONFIG_CHANGED,
                "site_id": _uuid(item.get("site_id")),
                "charger_id": charger_id,
                "actor": actor.name,
                "actor_role": actor.role,
                "actor_token_id": actor.token_id,
                "subject": item.get("kind"),
                "subject_id": item.get("id"),
                "data": data,
            }
        )
    related = [
        {"table": c.table, "id": key, "action": c.action, "changes": field_changes(c)}
        for key, c in by_id.items()
        if key not in claimed and key and field_changes(c)
    ]
    if datas and related:
        datas[0]["related"] = related
    return rows


def _charger_of(item: Mapping[str, Any], own: Change | None) -> uuid.UUID | None:
    if item.get("kind") == "charger":
        return _uuid(item.get("id"))
    if own is not None:
        value = own.new.get("charger_id", own.old.get("charger_id"))
        if value is None:
            value = getattr(own.obj, "charger_id", None)
        return _uuid(value)
    return None


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
