"""A small error hierarchy; the API maps it to HTTP in one place (api/problems.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


class DomainError(Exception):
    """Base of every error the core raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class InvalidValue(DomainError):
    """One or more fields hold values the model does not accept (HTTP 422)."""

    def __init__(self, errors: list[FieldError] | FieldError) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @classmethod
    def of(cls, field_name: str, message: str) -> InvalidValue:
        return cls(FieldError(field_name, message))


class NotFound(DomainError):
    """Unknown, or outside what the caller may see (HTTP 404)."""


class Forbidden(DomainError):
    """The caller's role may not do this (HTTP 403)."""


class Conflict(DomainError):
    """The request clashes with current state, e.g. a charger is offline (HTTP 409)."""


class ChargerTimeout(DomainError):
    """A charger did not answer in time (HTTP 504)."""


@dataclass
class ErrorCollector:
    """Gathers field errors so a request reports all of them at once."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, message: str) -> None:
        self.errors.append(FieldError(field_name, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidValue(self.errors)
