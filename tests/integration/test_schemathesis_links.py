"""The OpenAPI links the app serves (api/openapi_links.py), read from the document itself.

The stateful run in test_schemathesis.py walks these links; here each one is checked to
name a real operation with parameters and body fields it really has, and every
operation on an id to be reachable by one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from chargegrid.api.openapi_links import Source, add_links
from chargegrid.app import API_PREFIX, build_app
from chargegrid.config import Settings
from chargegrid.store.db import Database


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = build_app(Settings(), db=Database("sqlite+aiosqlite://", pooled=False))
    result: dict[str, Any] = app.openapi()
    return result


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path, operation)."""
    return {
        operation["operationId"]: (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def _links(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, status, link) for every link in the document."""
    return [
        (method, path, status, link)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        for status, response in operation["responses"].items()
        for link in response.get("links", {}).values()
    ]


def _operation_id(
    operations: dict[str, tuple[str, str, dict[str, Any]]], method: str, path: str
) -> str:
    return next(oid for oid, (m, p, _) in operations.items() if (m, p) == (method, path))


def _body_properties(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    return set(document["components"]["schemas"][name]["properties"])


def test_a_created_site_links_to_its_operations_and_a_charger_there(
    document: dict[str, Any],
) -> None:
    links = document["paths"][f"{API_PREFIX}/sites"]["post"]["responses"]["201"]["links"]
    operations = _operations(document)
    by_target = {
        (operations[link["operationId"]][0], operations[link["operationId"]][1]): link
        for link in links.values()
    }
    get_site = by_target[("get", f"{API_PREFIX}/sites/{{site_id}}")]
    assert get_site["parameters"] == {"site_id": "$response.body#/id"}
    assert ("delete", f"{API_PREFIX}/sites/{{site_id}}") in by_target
    charger = by_target[("post", f"{API_PREFIX}/chargers")]
    assert charger == {
        "operationId": _operation_id(operations, "post", f"{API_PREFIX}/chargers"),
        "requestBody": {"site_id": "$response.body#/id"},
    }
    # Every operation below the site's path, e.g. its circuits and live load.
    assert ("post", f"{API_PREFIX}/sites/{{site_id}}/circuits") in by_target
    assert ("get", f"{API_PREFIX}/sites/{{site_id}}/load") in by_target


def _targets(document: dict[str, Any], method: str, path: str, status: str) -> set[str]:
    """ "METHOD path" of every operation the response links to."""
    operations = _operations(document)
    links = document["paths"][API_PREFIX + path][method]["responses"][status]["links"]
    return {
        f"{operations[link['operationId']][0].upper()} {operations[link['operationId']][1]}"
        for link in links.values()
    }


def test_a_response_links_to_deleting_only_what_it_created(document: dict[str, Any]) -> None:
    listed = _targets(document, "get", "/sites", "200")
    assert f"GET {API_PREFIX}/sites/{{site_id}}" in listed
    assert f"DELETE {API_PREFIX}/sites/{{site_id}}" not in listed
    circuit = _targets(document, "post", "/sites/{site_id}/circuits", "201")
    assert f"DELETE {API_PREFIX}/circuits/{{circuit_id}}" in circuit
    assert f"GET {API_PREFIX}/sites/{{site_id}}" in circuit  # its parent: read, not deleted
    assert f"DELETE {API_PREFIX}/sites/{{site_id}}" not in circuit
    session = _targets(document, "get", "/sessions/{session_id}", "200")
    assert f"POST {API_PREFIX}/chargers/{{charger_id}}/actions/remote-stop" in session
    assert f"DELETE {API_PREFIX}/chargers/{{charger_id}}" not in session


def test_every_link_names_a_real_operation_its_path_parameters_and_body_fields(
    document: dict[str, Any],
) -> None:
    operations = _operations(document)
    links = _links(document)
    assert len(links) > 100
    for method, path, status, link in links:
        assert link["operationId"] in operations, (method, path, link)
        _, target_path, target = operations[link["operationId"]]
        needed = set(re.findall(r"{([^}]+)}", target_path))
        assert set(link.get("parameters", {})) == needed, (method, path, status, link)
        for expression in link.get("parameters", {}).values():
            assert expression.startswith(("$response.body#/", "$request.path.")), expression
        if "requestBody" in link:
            assert set(link["requestBody"]) <= _body_properties(document, target), link


def test_every_operation_on_an_id_can_be_reached_by_a_link(document: dict[str, Any]) -> None:
    reached = {link["operationId"] for *_, link in _links(document)}
    unreached = [
        f"{method.upper()} {path}"
        for oid, (method, path, _) in _operations(document).items()
        if "{" in path and oid not in reached
    ]
    assert not unreached, f"add a Source in api/openapi_links.py for: {unreached}"


def test_sources_the_document_lacks_are_skipped() -> None:
    document: dict[str, Any] = {
        "paths": {"/v/things/{thing_id}": {"get": {"operationId": "get_thing", "responses": {}}}}
    }
    ghost = Source("post", "/things", "201", {"thing_id": "$response.body#/id"})
    add_links(document, "/v", (ghost,))
    assert document["paths"]["/v/things/{thing_id}"]["get"]["responses"] == {}
