"""Where a payload may be broken, read from the ``ocpp`` package's own JSON schemas (the
ones the server validates against): the required fields it carries, its string fields
with a ``maxLength``, and every leaf with its JSON type. The fuzzer mutates at these
paths, so it follows the schemas instead of a hand-kept list that could drift."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Leaf:
    path: Path
    value: Any
    schema: dict[str, Any]


@functools.cache
def request_schema(version: str, action: str) -> dict[str, Any]:
    """``version`` is ``"1.6"`` or ``"2.0.1"``."""
    package, name = ("ocpp.v16", action) if version == "1.6" else ("ocpp.v201", action + "Request")
    text = resources.files(package).joinpath("schemas", f"{name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:  # 2.0.1: "#/definitions/Name"
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root["definitions"][name]
    return node


def walk(version: str, action: str, payload: Any) -> tuple[list[Path], list[Leaf]]:
    """(paths of required fields present in ``payload``, every leaf under a known schema)."""
    root = request_schema(version, action)
    required: list[Path] = []
    leaves: list[Leaf] = []

    def visit(value: Any, node: dict[str, Any], path: Path) -> None:
        node = _resolve(node, root)
        if isinstance(value, dict):
            properties = node.get("properties", {})
            for key in node.get("required", ()):
                if key in value:
                    required.append((*path, key))
            for key, item in value.items():
                if key in properties:
                    visit(item, properties[key], (*path, key))
        elif isinstance(value, list):
            items = node.get("items", {})
            for i, item in enumerate(value):
                visit(item, items, (*path, i))
        else:
            leaves.append(Leaf(path, value, node))

    visit(payload, root, ())
    return required, leaves


def get_at(payload: Any, path: Path) -> Any:
    for step in path:
        payload = payload[step]
    return payload


def set_at(payload: Any, path: Path, value: Any) -> None:
    get_at(payload, path[:-1])[path[-1]] = value


def delete_at(payload: Any, path: Path) -> None:
    del get_at(payload, path[:-1])[path[-1]]


def objects(payload: Any, path: Path = ()) -> list[Path]:
    """Paths of every JSON object in ``payload`` (the top level included)."""
    found: list[Path] = []
    if isinstance(payload, dict):
        found.append(path)
        for key, item in payload.items():
            found += objects(item, (*path, key))
    elif isinstance(payload, list):
        for i, item in enumerate(payload):
            found += objects(item, (*path, i))
    return found
