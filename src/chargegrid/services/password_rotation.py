"""Password rotation (``POST /chargers/{id}/actions/rotate-password``, security profiles
1 and 2): a new random password for the charger's HTTP Basic auth.

The new password's hash is staged as the charger's *pending* one before the charger is
told: some chargers reconnect with a new AuthorizationKey at once, even before their
answer reaches us. If the charger refuses (Rejected, NotSupported, a CallError) or is
offline, the pending one is dropped and nothing changed. If it accepts, the old
password stays valid beside the new one until the charger connects with the new one,
which then becomes the only one (``ocpp/handshake_security.py``). If it does not
answer in time it may still have taken it: the pending one is kept (the old one still
works too), so a lost answer cannot lock the charger out; a later rotation replaces it.

The charger is told: OCPP 1.6 ``ChangeConfiguration AuthorizationKey`` with the
password's bytes as hex (Security Whitepaper: 16-20 bytes, sent as 32-40 hex digits,
which the charger decodes and sends as its password); 2.0.1 ``SetVariables
SecurityCtrlr.BasicAuthPassword`` (passwordString, at most 40 characters).
"""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chargegrid.domain.errors import ChargerTimeout, Conflict
from chargegrid.services import charger_commands as cmd
from chargegrid.services import security_events as se
from chargegrid.services.charger_commands import CommandGateway, run_command

ALPHABET = string.ascii_letters + string.digits
# 20 characters of 62: 119 bits, within 1.6's 20 bytes; 2.0.1 takes up to 40 (238 bits).
LENGTH = {"1.6": 20, "2.0.1": 40}
ACCEPTED = frozenset({"Accepted", "RebootRequired"})
BASIC_AUTH_PASSWORD = cmd.VariableName("SecurityCtrlr", "BasicAuthPassword")


class RotationStore(Protocol):
    async def stage(self, charger_id: uuid.UUID, new_hash: str) -> None: ...

    async def drop(self, charger_id: uuid.UUID, new_hash: str) -> None: ...

    async def keep_current(
        self, charger_id: uuid.UUID, old_hash: str | None, new_hash: str
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ChargerFacts:
    id: uuid.UUID
    ocpp_id: str
    ocpp_version: str | None  # of its current connection
    password_hash: str | None


@dataclass(frozen=True, slots=True)
class Rotated:
    password: str
    status: str  # the charger's answer: Accepted | RebootRequired


def new_password(ocpp_version: str) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH[ocpp_version]))


def command_for(ocpp_version: str, password: str) -> cmd.Command:
    if ocpp_version == "1.6":
        return cmd.ChangeConfiguration("AuthorizationKey", password.encode().hex())
    return cmd.SetVariables(((BASIC_AUTH_PASSWORD, password),))


def answer_status(ocpp_version: str, answer: Mapping[str, Any]) -> str:
    """The charger's verdict (``answer`` in snake_case, as ``run_command`` gives it)."""
    if ocpp_version == "1.6":
        return str(answer.get("status"))
    results = answer.get("set_variable_result") or [{}]
    return str(results[0].get("attribute_status"))


async def rotate_password(
    gateway: CommandGateway | None,
    store: RotationStore,
    events: se.SecurityEvents,
    charger: ChargerFacts,
    hash_password: Callable[[str], str],
    timeout: float = cmd.ACTION_TIMEOUT,  # noqa: ASYNC109 (the call's own deadline)
) -> Rotated:
    if gateway is None or charger.ocpp_version not in LENGTH:
        raise Conflict(f"charger {charger.ocpp_id} is offline")
    version = charger.ocpp_version
    password = new_password(version)
    new_hash = await asyncio.to_thread(hash_password, password)
    await store.stage(charger.id, new_hash)
    try:
        answer = await run_command(
            gateway, charger.ocpp_id, command_for(version, password), timeout
        )
    except ChargerTimeout:
        await events.csms(
            charger.id,
            charger.ocpp_id,
            se.PASSWORD_ROTATED,
            "no answer in time: the old password works, and so does the new one if the "
            "charger took it",
        )
        raise
    except BaseException:
        await asyncio.shield(store.drop(charger.id, new_hash))
        raise
    status = answer_status(version, answer)
    if status not in ACCEPTED:
        await store.drop(charger.id, new_hash)
        raise Conflict(f"the charger answered {status}: its password is unchanged")
    # The old one must keep working until the charger uses the new one, whatever
    # replaced the current hash meanwhile (2.0.1: the SetVariables observer in
    # ocpp/central.py stages the same password as pending too).
    await store.keep_current(charger.id, charger.password_hash, new_hash)
    await events.csms(
        charger.id,
        charger.ocpp_id,
        se.PASSWORD_ROTATED,
        f"the charger answered {status}; the old password works until it connects with the new one",
    )
    return Rotated(password, status)
