"""Vendor ids to ours: a path that takes an id takes our UUID or its integer alias.

Vendors name things by number (Spirii's EVSE ``uid``, AMPECO's ids, Plugchoice's
connector ``id``); chargegrid by UUID. Every site, circuit, charger, EVSE and connector
has a stable integer alias (``store/aliases.py``), so an integration may send either.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from chargegrid.domain.errors import NotFound
from chargegrid.store.aliases import AliasKind, alias_of, aliases_of, entity_of
from chargegrid.store.uow import UnitOfWork

__all__ = ["AliasKind", "alias", "aliases", "resolve"]

# Larger numbers are no alias (a BIGINT holds 18 digits safely); they are unknown ids.
_MAX_ALIAS_DIGITS = 18


async def resolve(uow: UnitOfWork, kind: AliasKind, ref: str, what: str | None = None) -> uuid.UUID:
    """Our UUID for ``ref``: a UUID as it is, or the thing whose alias ``ref`` is.

    NotFound (the surface answers it in the vendor's 404 shape) for an alias that names
    no ``kind`` and for text that is neither. A UUID is not looked up here: the service
    that loads it answers 404 when it is unknown or outside the caller's sites.
    """
    text = ref.strip()
    if text.isascii() and text.isdigit() and len(text) <= _MAX_ALIAS_DIGITS:
        found = await entity_of(uow.session, kind, int(text))
        if found is not None:
            return found
    else:
        try:
            return uuid.UUID(text)
        except ValueError:
            pass
    raise NotFound(f"no such {what or kind.value}")


async def alias(uow: UnitOfWork, kind: AliasKind, entity_id: uuid.UUID) -> int:
    """The alias of a thing that exists (every row gets one as it is inserted)."""
    number = await alias_of(uow.session, kind, entity_id)
    if number is None:  # only if a migration dropped an insert trigger (test_aliases)
        raise LookupError(f"{kind.value} {entity_id} has no alias")
    return number


async def aliases(
    uow: UnitOfWork, kind: AliasKind, entity_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The aliases of many things in one query (for lists)."""
    return await aliases_of(uow.session, kind, entity_ids)
