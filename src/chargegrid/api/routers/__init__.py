"""One router per resource; ``all_routers`` is where the app picks them up."""

from __future__ import annotations

from fastapi import APIRouter

from chargegrid.api.routers import (
    actions,
    charger_security,
    chargers,
    circuits,
    cluster,
    consumption,
    events,
    evses,
    history,
    id_tags,
    load,
    meters,
    pki,
    sessions,
    sites,
    variables,
    webhooks,
)


def all_routers() -> list[APIRouter]:
    """Every REST router under /api/v1. Add a new resource's router here (one line)."""
    return [
        sites.router,
        circuits.router,
        chargers.router,
        variables.router,
        actions.router,
        charger_security.router,
        pki.router,
        evses.router,
        sessions.router,
        consumption.router,
        id_tags.router,
        meters.router,
        events.router,
        load.router,
        history.router,
        webhooks.router,
        cluster.router,
    ]
