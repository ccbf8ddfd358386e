"""``chargegrid simulate --api URL --token T``: create the fleet's chargers and id tags in
a chargegrid server through its public REST API before connecting (idempotent)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import httpx

from chargegrid.sim.charger import ChargerSpec

log = logging.getLogger(__name__)
METER_VALUE_INTERVAL_S = 10


async def register_fleet(
    api: str,
    token: str,
    specs: Sequence[ChargerSpec],
    id_tags: Sequence[str],
    site_id: str | None = None,
    circuit_id: str | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Create what is missing; returns how many chargers were new. 409 = exists already
    (an existing charger is left where it is, even with ``circuit_id``)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=api.rstrip("/"), headers=headers, timeout=30, transport=transport
    ) as http:
        if site_id is None and circuit_id is not None:
            circuit = (await _get(http, f"/circuits/{circuit_id}")).raise_for_status().json()
            site_id = circuit["site_id"]
        if site_id is None:
            sites = (await _get(http, "/sites", {"limit": 1})).raise_for_status().json()
            if not sites["data"]:
                raise SystemExit("the server has no site to put the chargers on; pass --site")
            site_id = sites["data"][0]["id"]
        created = 0
        for spec in specs:
            body: dict[str, object] = {
                "ocpp_id": spec.ocpp_id,
                "site_id": site_id,
                "max_charge_phases": 1 if spec.phases == 1 else 3,
                "meter_value_interval": METER_VALUE_INTERVAL_S,
                "connectors": [_connector(spec, n) for n in range(1, spec.connectors + 1)],
            }
            if circuit_id is not None:
                body["circuit_id"] = circuit_id
            if spec.password:
                body["password"] = spec.password
            answer = await _post(http, "/chargers", body)
            if answer.status_code == 201:
                created += 1
            elif answer.status_code != 409:
                answer.raise_for_status()
        for tag in id_tags:
            answer = await _post(http, "/id-tags", {"id_tag": tag})
            if answer.status_code not in (201, 409):
                answer.raise_for_status()
    log.info("registered %d new chargers on site %s", created, site_id)
    return created


def _connector(spec: ChargerSpec, number: int) -> dict[str, object]:
    """The wiring the simulated connector really has: without it the CSMS would assume
    a 3-phase RST connector and load-balance phases the cars do not use."""
    return {
        "connector_id": number,
        "power_type": "AC_1_PHASE" if spec.phases == 1 else "AC_3_PHASE",
        "phase_rotation": str(spec.rotation(number)),
        "max_amperage": int(spec.max_current),
    }


async def _post(http: httpx.AsyncClient, path: str, body: dict[str, object]) -> httpx.Response:
    """POST, waiting out the server's rate limit (429 + Retry-After) as often as it asks:
    a large fleet is registered faster than the default limit allows."""
    return await _patiently(lambda: http.post(path, json=body))


async def _get(
    http: httpx.AsyncClient, path: str, params: dict[str, object] | None = None
) -> httpx.Response:
    return await _patiently(lambda: http.get(path, params=params))  # type: ignore[arg-type]


async def _patiently(send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    while True:
        answer = await send()
        if answer.status_code != 429:
            return answer
        await asyncio.sleep(_retry_after_s(answer))


def _retry_after_s(answer: httpx.Response) -> float:
    text = answer.headers.get("Retry-After", "")
    return float(text) if text.isdigit() else 1.0
