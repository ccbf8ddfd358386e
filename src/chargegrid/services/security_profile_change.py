"""Raising a charger's security profile the OCPP way
(``POST /chargers/{id}/actions/set-security-profile``).

OCPP forbids lowering it remotely (1.6 Security Whitepaper; 2.0.1 A05: a station never
falls back to a lower profile), and a charger must be ready for the new one first:
profile 2 needs its password set, and the CSMS must serve wss (directly or behind a
trusted proxy). Then:

* 1.6: ``ChangeConfiguration SecurityProfile``; the charger reconnects with it.
* 2.0.1 (A05, Upgrade Charging Station Security Profile): ``SetNetworkProfile`` into
  a free configuration slot (connectionData with our public wss URL and the new
  profile), ``SetVariables OCPPCommCtrlr.NetworkConfigurationPriority`` with that slot
  first, then ``Reset OnIdle`` so the station reconnects through it.

The new profile is stored only once the charger accepted the change (for 2.0.1: the
network profile and its priority; the reset's answer is reported, as the change applies
at the next boot whatever it says). The current connection stays until the charger
reconnects; its next handshake must meet the new profile.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chargegrid.domain.errors import Conflict, InvalidValue
from chargegrid.services import charger_commands as cmd
from chargegrid.services import security_events as se
from chargegrid.services.charger_commands import CommandGateway, run_command

ACCEPTED = frozenset({"Accepted", "RebootRequired"})
PRIORITY = cmd.VariableName("OCPPCommCtrlr", "NetworkConfigurationPriority")
MESSAGE_TIMEOUT_S = 30


class ProfileStore(Protocol):
    async def set_security_profile(self, charger_id: uuid.UUID, profile: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ChargerFacts:
    id: uuid.UUID
    ocpp_id: str
    ocpp_version: str | None
    security_profile: int
    has_password: bool


@dataclass(frozen=True, slots=True)
class Server:
    """What this CSMS offers the charger."""

    serves_wss: bool  # a wss listener, or a trusted TLS-terminating proxy
    public_url: str | None  # wss://host[:port]/ocpp/ (2.0.1 ocppCsmsUrl)


@dataclass
class Changed:
    security_profile: int
    previous: int
    steps: list[dict[str, Any]] = field(default_factory=list)  # each call's action, answer


def check(charger: ChargerFacts, profile: int, server: Server) -> None:
    """Refuse what OCPP forbids or what cannot work, before anything is sent."""
    if profile < charger.security_profile:
        raise InvalidValue.of(
            "security_profile",
            f"the charger is at profile {charger.security_profile}; OCPP forbids lowering it "
            "remotely (PATCH security_profile records a change made at the charger)",
        )
    if profile == 2 and not charger.has_password:
        raise InvalidValue.of(
            "security_profile", "profile 2 needs a password: rotate-password first"
        )
    if profile >= 2 and not server.serves_wss:
        raise Conflict(
            "this server serves no wss: start it with --ocpp-tls-port, or behind a proxy "
            "listed in --trusted-proxy"
        )
    if charger.ocpp_version == "2.0.1" and not (
        server.public_url and server.public_url.startswith("wss://")
    ):
        raise Conflict(
            "a 2.0.1 station is told the URL to reconnect to: set --ocpp-public-url "
            "(wss://host:port/ocpp/)"
        )


async def change_profile(
    gateway: CommandGateway | None,
    store: ProfileStore,
    events: se.SecurityEvents,
    charger: ChargerFacts,
    profile: int,
    server: Server,
    timeout: float = cmd.ACTION_TIMEOUT,  # noqa: ASYNC109 (each call's own deadline)
) -> Changed:
    check(charger, profile, server)
    changed = Changed(profile, charger.security_profile)

    async def send(command: cmd.Command, what: str) -> Mapping[str, Any]:
        answer = await run_command(gateway, charger.ocpp_id, command, timeout)
        changed.steps.append({"action": what, "answer": answer})
        return answer

    if charger.ocpp_version == "1.6":
        answer = await send(
            cmd.ChangeConfiguration("SecurityProfile", str(profile)), "ChangeConfiguration"
        )
        _accepted(answer.get("status"), "ChangeConfiguration SecurityProfile")
    elif charger.ocpp_version == "2.0.1":
        assert server.public_url is not None  # check() made sure
        await _upgrade_201(send, profile, server.public_url)
    else:
        raise Conflict(f"charger {charger.ocpp_id} is offline")
    await store.set_security_profile(charger.id, profile)
    await events.csms(
        charger.id,
        charger.ocpp_id,
        se.SECURITY_PROFILE_CHANGED,
        f"{charger.security_profile} -> {profile}, accepted by the charger; its next "
        "connection must meet it",
    )
    return changed


async def _upgrade_201(send: Any, profile: int, url: str) -> None:
    answer = await send(cmd.GetVariables((PRIORITY,)), "GetVariables")
    result = (answer.get("get_variable_result") or [{}])[0]
    used = []
    if result.get("attribute_status") == "Accepted":
        used = [s.strip() for s in str(result.get("attribute_value") or "").split(",")]
        used = [s for s in used if s.isdigit()]
    slot = max((int(s) for s in used), default=0) + 1
    network = {
        "configurationSlot": slot,
        "connectionData": {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": url,
            "messageTimeout": MESSAGE_TIMEOUT_S,
            "securityProfile": profile,
            "ocppInterface": "Wired0",
        },
    }
    answer = await send(cmd.Native("SetNetworkProfile", network, "2.0.1"), "SetNetworkProfile")
    _accepted(answer.get("status"), "SetNetworkProfile")
    priority = ",".join([str(slot), *used])
    answer = await send(cmd.SetVariables(((PRIORITY, priority),)), "SetVariables")
    status = (answer.get("set_variable_result") or [{}])[0].get("attribute_status")
    _accepted(status, "SetVariables NetworkConfigurationPriority")
    await send(cmd.Reset(hard=False), "Reset")


def _accepted(status: Any, what: str) -> None:
    if status not in ACCEPTED:
        raise Conflict(f"the charger answered {what} with {status}: its profile is unchanged")
