"""OCPP-J CallError codes and the exception a handler raises to answer with one."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """OCPP-J error codes: 1.6J §4.2.3 spells them as below, typos included; 2.0.1 fixed
    the spellings and added the last two (``SchemaSet.spell`` writes each version's)."""

    NOT_IMPLEMENTED = "NotImplemented"  # action not known by the receiver
    NOT_SUPPORTED = "NotSupported"  # action known but not supported
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"  # payload incomplete / frame of the wrong shape
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"  # not JSON, or not the action's PDU
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"
    # 2.0.1: not a valid RPC frame (1.6 says ProtocolError) ...
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    # ... and a message type number it does not know (1.6: ProtocolError).
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"


class OcppCallError(Exception):
    """Raised while handling a CALL; the connection answers it as a CALLERROR."""

    def __init__(
        self, code: ErrorCode, description: str = "", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code.value}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}


class AnswerError(Exception):
    """The other side did not accept one of our CALLs: a CALLERROR or a broken answer."""


class CallErrorReceived(AnswerError):
    """The other side answered one of our CALLs with a CALLERROR."""

    def __init__(self, action: str, code: str, description: str, details: Any) -> None:
        super().__init__(f"{action} answered {code}: {description}")
        self.action = action
        self.code = code
        self.description = description
        self.details = details


class InvalidAnswer(AnswerError):
    """The other side's CALLRESULT breaks the action's response schema."""

    def __init__(self, action: str, description: str) -> None:
        super().__init__(f"{action} answer is invalid: {description}")
        self.action = action
        self.description = description
