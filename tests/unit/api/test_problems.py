"""Mapping pydantic locations to API field names, and the problem body."""

from __future__ import annotations

import json

import pytest

from chargegrid.api.problems import field_name, problem
from chargegrid.domain.errors import FieldError


@pytest.mark.parametrize(
    ("loc", "name"),
    [
        (("body", "max_charge_current"), "max_charge_current"),
        (("body", "connectors", 0, "phase_rotation"), "connectors[0].phase_rotation"),
        (("query", "limit"), "limit"),
        (("path", "site_id"), "site_id"),
        (("body",), "body"),
        (("body", "available_current", "function-after[check()]"), "available_current"),
    ],
)
def test_field_names(loc: tuple[int | str, ...], name: str) -> None:
    assert field_name(loc) == name


def test_problem_body_is_rfc9457() -> None:
    response = problem(422, "bad", [FieldError("max_current", "too high")])
    body = json.loads(bytes(response.body))
    assert response.media_type == "application/problem+json"
    assert body == {
        "type": "https://chargegrid.dev/problems/unprocessable-entity",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "bad",
        "errors": [{"field": "max_current", "message": "too high"}],
    }
