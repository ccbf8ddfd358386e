"""API tokens, roles and site scopes; charger passwords.

Tokens are 256-bit random strings, shown once and stored as SHA-256 digests: with that
much entropy a slow hash adds nothing, and a fast one keeps every request cheap.
Charger passwords are chosen by people, so they get a slow, salted hash (scrypt).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from chargegrid.domain.errors import Forbidden, InvalidValue, NotFound
from chargegrid.store.models import ApiToken
from chargegrid.store.types import utcnow
from chargegrid.store.uow import UnitOfWork

TOKEN_PREFIX = "cg_"


class Role(StrEnum):
    ADMIN = "admin"  # everything
    SERVICE = "service"  # electrician: technical settings incl. fuse ratings
    OWNER = "owner"  # site owner: operational settings, not fuse ratings
    VIEWER = "viewer"  # read-only


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a role and, optionally, the only sites they may see."""

    role: Role
    site_ids: frozenset[uuid.UUID] | None = None
    token_id: uuid.UUID | None = None

    @property
    def unscoped(self) -> bool:
        return self.site_ids is None

    def can_see_site(self, site_id: uuid.UUID | None) -> bool:
        if self.site_ids is None:
            return True
        return site_id is not None and site_id in self.site_ids

    def check_site(self, site_id: uuid.UUID | None, what: str = "resource") -> None:
        """Outside the token's sites is indistinguishable from unknown (404)."""
        if not self.can_see_site(site_id):
            raise NotFound(f"no such {what}")

    def require_write(self) -> None:
        if self.role is Role.VIEWER:
            raise Forbidden("the viewer role is read-only")

    def require_technical(self, what: str) -> None:
        """Fuse ratings and wiring are for electricians (service) and admins."""
        if self.role not in (Role.ADMIN, Role.SERVICE):
            raise Forbidden(f"changing {what} needs the service or admin role")

    def require_admin(self, what: str) -> None:
        if self.role is not Role.ADMIN:
            raise Forbidden(f"{what} needs the admin role")


ADMIN = Principal(Role.ADMIN)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError as exc:
        roles = ", ".join(r.value for r in Role)
        raise InvalidValue.of("role", f"{text!r} is not a role; one of {roles}") from exc


async def create_token(
    uow: UnitOfWork,
    role: Role,
    site_ids: list[uuid.UUID] | None = None,
    name: str | None = None,
) -> str:
    """Store a new token's hash and return the token itself (the only time it is seen)."""
    for site_id in site_ids or []:
        if await uow.sites.get(site_id) is None:
            raise InvalidValue.of("site", f"no site {site_id}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    uow.tokens.add(
        ApiToken(
            token_hash=hash_token(token),
            role=role.value,
            site_ids=[str(s) for s in site_ids] if site_ids else None,
            name=name,
        )
    )
    await uow.commit()
    return token


async def authenticate(uow: UnitOfWork, token: str) -> Principal | None:
    """The principal for a bearer token, or None when it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = await uow.tokens.by_hash(hash_token(token))
    if row is None or row.revoked_at is not None:
        return None
    scope = frozenset(uuid.UUID(s) for s in row.site_ids) if row.site_ids is not None else None
    return Principal(Role(row.role), scope, row.id)


class PrincipalCache:
    """Tokens seen in the last ``ttl_s`` seconds, so most requests need no token query.

    Only known tokens are kept (a new token works at once; a guessed one always costs a
    lookup). A revocation reaches a running server within ``ttl_s`` at the latest, and
    within a second through ``services.revocations.RevocationWatch`` (every node).
    """

    def __init__(
        self,
        ttl_s: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[token]
            return None
        return entry[1]

    def put(self, token: str, principal: Principal) -> None:
        self._entries[token] = (self.clock() + self.ttl_s, principal)
        self._entries.move_to_end(token)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget_tokens(self, token_ids: set[uuid.UUID]) -> int:
        """Drop the entries of these tokens (revoked): their next request reads the
        database again. How many were dropped."""
        stale = [k for k, (_, p) in self._entries.items() if p.token_id in token_ids]
        for key in stale:
            del self._entries[key]
        return len(stale)

    async def authenticate(self, uow: UnitOfWork, token: str) -> Principal | None:
        principal = self.get(token)
        if principal is None:
            principal = await authenticate(uow, token)
            if principal is not None:
                self.put(token, principal)
        return principal


async def revoke_token(uow: UnitOfWork, token_id: uuid.UUID) -> None:
    row = await uow.tokens.get(token_id)
    if row is None:
        raise NotFound("no such token")
    row.revoked_at = utcnow()
    await uow.commit()


# scrypt parameters: ~16 MiB and a few tens of ms a check, once per charger connection.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of a charger's Basic-auth password against its stored hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)
