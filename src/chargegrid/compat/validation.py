"""A vendor's fields checked by our own request schemas, so no rule is written twice.

A surface renames what the vendor sent to our field names and validates the result as
the ``/api/v1`` body it corresponds to (``SiteUpdate``, ``ChargerUpdate``,
``ConnectorUpdate`` ...): every range, enum and validator there applies to the vendor's
request as well. An error names our field; the surface's ``field_names`` turn it back
into the vendor's name in its error shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from chargegrid.api.problems import validation_errors
from chargegrid.domain.errors import InvalidValue


def validated_as(
    schema: type[BaseModel], given: Mapping[str, Any], ours: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``given`` (renamed by ``ours``: vendor name -> our name) validated as ``schema``;
    the fields sent, as the schema dumps them. InvalidValue names each bad field."""
    data = {(ours or {}).get(name, name): value for name, value in given.items()}
    try:
        return schema.model_validate(data).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise InvalidValue(validation_errors(RequestValidationError(exc.errors()))) from exc
