"""OpenAPI links in the served document: which ids a response hands to which requests.

A client (or a stateful fuzzer such as Schemathesis) reading ``/api/v1/openapi.json``
learns from them that the ``id`` of a created site is the ``site_id`` of
``GET /sites/{site_id}``, of ``POST /sites/{site_id}/circuits``, of every charger action
that wants one in its body, and so on. FastAPI has no way to declare links on a route,
so they are added to its generated document, once, when it is first built.

One table says what each response carries (``SOURCES``); the links follow from the
paths: a response links to every operation whose path parameters it all supplies, so an
operation added later under ``/chargers/{charger_id}/...`` is linked from every charger
response without touching this module. Links that fill request-body fields are listed
by hand, since no path says where a body's ``site_id`` comes from.

Values are OpenAPI runtime expressions. ``requestBody`` is an object whose string
values are expressions for the fields they name; the operation's other fields are the
client's own (Schemathesis merges them into what it generates).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

_PATH_PARAMETER = re.compile(r"{([^}]+)}")


def _body(pointer: str) -> str:
    return f"$response.body#{pointer}"


def _first(field_name: str) -> str:
    """The first item of a list response (``{"data": [...]}``)."""
    return _body(f"/data/0/{field_name}")


@dataclass(frozen=True)
class Source:
    """The values one documented response hands to later requests.

    ``params``: path parameter name -> expression. ``bodies``: a target operation
    (method, path) -> its request-body fields -> expression.
    """

    method: str
    path: str
    status: str
    params: Mapping[str, str]
    bodies: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    # The path parameter of what this response created: the only thing it links to
    # deleting. Not the parents it names, nor a list's first item, which is whatever
    # sorts first (a fuzzer would delete the same shared one on every walk).
    creates: str | None = None


def _listed(
    path: str,
    params: Mapping[str, str],
    bodies: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
) -> Source:
    """A list operation (``{"data": [...]}``), handing on its first item."""
    return Source("get", path, "200", params, bodies or {})


# Only fields that are never null in a 2xx answer: a link must not hand "None" to a path.
# A list's first item is absent when the list is empty; the link is then not followed.
SOURCES: tuple[Source, ...] = (
    Source(
        "post",
        "/sites",
        "201",
        {"site_id": _body("/id")},
        {
            ("post", "/chargers"): {"site_id": _body("/id")},
            ("post", "/electricity-meters"): {"site_id": _body("/id")},
            ("post", "/id-tags"): {"site_id": _body("/id")},
            ("post", "/webhooks"): {"site_id": _body("/id")},
        },
        creates="site_id",
    ),
    _listed("/sites", {"site_id": _first("id")}),
    Source(
        "post",
        "/sites/{site_id}/circuits",
        "201",
        {"circuit_id": _body("/id"), "site_id": _body("/site_id")},
        {
            ("post", "/chargers"): {"site_id": _body("/site_id"), "circuit_id": _body("/id")},
            # A circuit under the one just made, in the same site: the tree grows deeper.
            ("post", "/sites/{site_id}/circuits"): {"parent_id": _body("/id")},
        },
        creates="circuit_id",
    ),
    _listed(
        "/sites/{site_id}/circuits",
        {"circuit_id": _first("id"), "site_id": "$request.path.site_id"},
    ),
    Source(
        "post",
        "/chargers",
        "201",
        {
            "charger_id": _body("/id"),
            # Present when the charger was created with EVSEs (and they with connectors).
            "evse_id": _body("/evses/0/id"),
            "connector_id": _body("/evses/0/connectors/0/connector_id"),
        },
        creates="charger_id",
    ),
    _listed("/chargers", {"charger_id": _first("id")}),
    Source(
        "post",
        "/chargers/{charger_id}/evses",
        "201",
        {
            "evse_id": _body("/id"),
            "charger_id": _body("/charger_id"),
            "connector_id": _body("/connectors/0/connector_id"),
        },
        {
            ("post", "/chargers/{charger_id}/actions/unlock"): {
                "evse_number": _body("/evse_number")
            },
            ("post", "/chargers/{charger_id}/actions/remote-start"): {
                "evse_number": _body("/evse_number")
            },
        },
        creates="evse_id",
    ),
    _listed(
        "/chargers/{charger_id}/evses",
        {
            "evse_id": _first("id"),
            "charger_id": "$request.path.charger_id",
            "connector_id": _first("connectors/0/connector_id"),
        },
    ),
    _listed(
        "/evses/{evse_id}/connectors",
        {
            "evse_id": "$request.path.evse_id",
            "charger_id": _first("charger_id"),
            "connector_id": _first("connector_id"),
        },
    ),
    Source(
        "post",
        "/evses/{evse_id}/connectors",
        "201",
        {
            "evse_id": "$request.path.evse_id",
            "charger_id": _body("/charger_id"),
            "connector_id": _body("/connector_id"),
        },
    ),
    Source(
        "post",
        "/id-tags",
        "201",
        {"tag_id": _body("/id")},
        creates="tag_id",
    ),
    _listed("/id-tags", {"tag_id": _first("id")}),
    Source(
        "post",
        "/electricity-meters",
        "201",
        {"meter_id": _body("/id"), "site_id": _body("/site_id")},
        {
            ("post", "/sites/{site_id}/circuits"): {"electricity_meter_id": _body("/id")},
            ("patch", "/sites/{site_id}"): {"electricity_meter_id": _body("/id")},
        },
        creates="meter_id",
    ),
    _listed("/electricity-meters", {"meter_id": _first("id")}),
    Source("post", "/webhooks", "201", {"webhook_id": _body("/id")}, creates="webhook_id"),
    _listed("/webhooks", {"webhook_id": _first("id")}),
    _listed(
        "/sessions",
        {"session_id": _first("id"), "charger_id": _first("charger_id")},
        {("post", "/chargers/{charger_id}/actions/remote-stop"): {"session_id": _first("id")}},
    ),
    Source(
        "get",
        "/sessions/{session_id}",
        "200",
        {"session_id": _body("/id"), "charger_id": _body("/charger_id")},
        {("post", "/chargers/{charger_id}/actions/remote-stop"): {"session_id": _body("/id")}},
    ),
)


def add_links(document: dict[str, Any], prefix: str, sources: tuple[Source, ...] = SOURCES) -> None:
    """Adds ``links`` to the responses of ``document`` (paths below ``prefix``), in place.
    A source or target the document does not have is skipped: links follow the routes."""
    paths: dict[str, dict[str, Any]] = document.get("paths", {})
    for source in sources:
        operation = paths.get(prefix + source.path, {}).get(source.method, {})
        response = operation.get("responses", {}).get(source.status)
        if response is None:
            continue
        links = {
            target["operationId"]: link
            for path, targets in paths.items()
            if path.startswith(prefix + "/")  # not the vendor surfaces: their own ids
            for method, target in targets.items()
            if (link := _link(source, method, path.removeprefix(prefix), target)) is not None
        }
        if links:
            response["links"] = links


def _link(source: Source, method: str, path: str, target: dict[str, Any]) -> dict[str, Any] | None:
    """The link from ``source`` to the operation ``method path``, if it makes one."""
    needed = _PATH_PARAMETER.findall(path)
    body = source.bodies.get((method, path))
    if not set(needed) <= source.params.keys() or not (needed or body):
        return None
    if (method, path) == (source.method, source.path) and not body:
        return None  # the same request again teaches nothing
    if method == "delete" and needed != [source.creates]:
        return None
    link: dict[str, Any] = {"operationId": target["operationId"]}
    if needed:
        link["parameters"] = {name: source.params[name] for name in needed}
    if body:
        link["requestBody"] = dict(body)
    return link


def install(app: FastAPI, prefix: str) -> None:
    """Serves ``app``'s OpenAPI document with its links (built once, like FastAPI's)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_links(build(), prefix)
        return build()  # FastAPI's cached document, links included

    app.openapi = openapi  # type: ignore[method-assign]
