"""Operator commands to one charger: find its connection, send, translate the answer.

The REST actions and anything else that commands a charger on behalf of a person go
through :func:`send_command`, so offline (409), timeout (504) and refusals are the
same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from chargegrid.domain.errors import Conflict

ACTION_TIMEOUT = 30.0
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class Gateway(Protocol):
    async def send(
        self,
        ocpp_id: str,
        action: str,
        payload: Mapping[str, Any],
        timeout: float,  # noqa: ASYNC109 (the call's own deadline)
    ) -> Mapping[str, Any]: ...


def snake(value: Any) -> Any:
    """An OCPP answer in the API's snake_case (``configurationKey`` -> ``configuration_key``)."""
    if isinstance(value, dict):
        return {_CAMEL.sub("_", k).lower(): snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake(v) for v in value]
    return value


async def send_command(
    gateway: Gateway | None,
    ocpp_id: str,
    action: str,
    payload: Mapping[str, Any],
    timeout: float = ACTION_TIMEOUT,  # noqa: ASYNC109
) -> dict[str, Any]:
    if gateway is None:
        raise Conflict(f"charger {ocpp_id} is offline (this process runs no OCPP server)")
    answer = await gateway.send(ocpp_id, action, payload, timeout)
    result: dict[str, Any] = snake(dict(answer))
    return result
