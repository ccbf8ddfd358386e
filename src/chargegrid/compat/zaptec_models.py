"""Zaptec's request and response bodies (docs.zaptec.com, the seed pages 000 and 001).

Field names are Zaptec's PascalCase; a request's keys are matched case-insensitively,
since clients in the wild send camelCase (``availableCurrent``). Zaptec's models are
C# nullables: ``null`` means "not sent", so a null field changes nothing (the seed:
"null is ignored"), unlike our own PATCH where null resets a field.

The types here only say what shape a value has (strictly: ``"16"`` is not 16 A). The
rules (ranges, -1 for automatic, which phases) are our own schemas' and services':
``zaptec.py`` validates each update again as ``SiteUpdate`` / ``ChargerUpdate`` and
hands it to the same service as ``PATCH /api/v1/...``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from chargegrid.api.schemas.common import Integer, Number

T = TypeVar("T")


class ZaptecBody(BaseModel):
    """A Zaptec request body: keys matched case-insensitively; unknown keys refused (400
    naming them), so a misspelt setting is never silently dropped."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _zaptec_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = {name.lower(): name for name in cls.model_fields}
        out: dict[str, Any] = {}
        for key, value in data.items():
            name = names.get(key.lower(), key) if isinstance(key, str) else key
            if name in out:
                raise ValueError(f"{name} is given twice (names are case-insensitive)")
            out[name] = value
        return out

    def given(self) -> dict[str, Any]:
        """The fields sent with a value, by Zaptec name (null is Zaptec's "not sent")."""
        return self.model_dump(exclude_none=True)


class InstallationUpdate(ZaptecBody):
    """``POST /api/installation/{id}/update``: give ``AvailableCurrent`` or the per-phase
    fields, not both (400)."""

    # Zaptec name -> our site field (API.md "Sites").
    OURS: ClassVar[dict[str, str]] = {
        "AvailableCurrent": "available_current",
        "AvailableCurrentPhase1": "available_current_phase1",
        "AvailableCurrentPhase2": "available_current_phase2",
        "AvailableCurrentPhase3": "available_current_phase3",
        "MaxCurrent": "max_current",
        "MinPowerOfflineMode": "offline_limit_to_min_current",
        "ThreeToOnePhaseSwitchCurrent": "three_to_one_phase_switch_current",
    }

    AvailableCurrent: Number | None = Field(
        None,
        description="A on all phases; clamped to MaxCurrent; negative (-1) clears the "
        "override; 0 pauses charging",
    )
    AvailableCurrentPhase1: Number | None = Field(
        None, description="A on phase 1; a phase left out goes back to its default"
    )
    AvailableCurrentPhase2: Number | None = Field(None, description="A on phase 2")
    AvailableCurrentPhase3: Number | None = Field(None, description="A on phase 3")
    MaxCurrent: Number | None = Field(
        None, description="The installation's main fuse, A per phase (service role)"
    )
    MinPowerOfflineMode: StrictBool | None = Field(
        None, description="true: offline chargers are limited to their minimum current"
    )
    ThreeToOnePhaseSwitchCurrent: Number | None = Field(
        None, description="A; below it a 3-phase session switches to one phase"
    )


class ChargerUpdate(ZaptecBody):
    """``POST /api/chargers/{id}/update``."""

    OURS: ClassVar[dict[str, str]] = {
        "MaxChargeCurrent": "max_charge_current",
        "MaxChargePhases": "max_charge_phases",
        "MinChargeCurrent": "min_charge_current",
        "MeterValueInterval": "meter_value_interval",
        "OfflineChargeCurrent": "offline_charge_current",
        "OfflineChargePhase": "offline_charge_phase",
    }

    MaxChargeCurrent: Number | None = Field(
        None, description="0-32 A; below the minimum charge current nothing is allocated"
    )
    MaxChargePhases: Integer | None = Field(None, description="1 = One, 3 = Three")
    MinChargeCurrent: Number | None = Field(None, description="A, default 6")
    MeterValueInterval: Integer | None = Field(
        None, description="s between periodic meter values; 0 disables them"
    )
    OfflineChargeCurrent: Number | None = Field(
        None, description="-1 automatic, or 0-32 A while the charger is offline"
    )
    OfflineChargePhase: Integer | None = Field(
        None, description="0 automatic (None), 1 Phase_1, 2 Phase_2, 4 Phase_3, 7 All"
    )


class TokenAnswer(BaseModel):
    """``POST /oauth/token``'s answer (RFC 6749 section 5.1)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="s until a client should log in again")


class OAuthError(BaseModel):
    """RFC 6749 section 5.2, as Zaptec's token endpoint answers a failed login (400)."""

    error: str
    error_description: str


class ZaptecError(BaseModel):
    """Zaptec's error body (``{"Code": 527, "Details": "..."}``); ``Errors`` names each
    field that was refused and why."""

    Code: int
    Details: str
    Errors: list[dict[str, str]] | None = None


class Installation(BaseModel):
    Id: str
    Name: str
    Active: bool
    AuthenticationType: int = Field(0, description="0: chargers start without authentication")
    CurrentUserRoles: int = Field(description="bit flags, as GET /api/constants UserRoles")
    InstallationType: int = 0
    NetworkType: int = Field(description="as GET /api/constants NetworkTypes")
    MaxCurrent: float
    AvailableCurrent: float | None = Field(
        description="The override on all phases alike, clamped; null: none, or per phase"
    )
    AvailableCurrentPhase1: float = Field(description="Effective A on phase 1")
    AvailableCurrentPhase2: float
    AvailableCurrentPhase3: float
    MinPowerOfflineMode: bool
    ThreeToOnePhaseSwitchCurrent: float | None
    TimeZoneName: str
    CreatedOnDate: datetime
    UpdatedOn: datetime


class Charger(BaseModel):
    Id: str
    Name: str
    DeviceId: str
    SerialNo: str | None
    Active: bool
    IsOnline: bool
    OperatingMode: int = Field(description="ChargerOperationMode, as GET /api/constants")
    DeviceType: int = 0
    CurrentUserRoles: int
    AuthenticationType: int = 0
    IsAuthorizationRequired: bool = False
    CircuitId: str = Field(description="The installation's Id for a charger on its main fuse")
    InstallationId: str | None
    InstallationName: str | None
    CreatedOnDate: datetime
    MaxChargeCurrent: float | None
    MinChargeCurrent: float
    MaxChargePhases: int
    OfflineChargeCurrent: float
    OfflineChargePhase: int
    MeterValueInterval: int


class Page(BaseModel, Generic[T]):
    """Zaptec's list shape."""

    Pages: int
    Data: list[T]


class Circuit(BaseModel):
    Id: str
    Name: str
    ParentId: str | None = Field(description="chargegrid's nested circuits; null: the main fuse")
    MaxCurrent: float
    IsActive: bool = True
    Chargers: list[Charger]


class Hierarchy(BaseModel):
    Id: str
    Name: str
    NetworkType: int
    Circuits: list[Circuit]


class ChargerFirmware(BaseModel):
    """One entry of ``GET /api/chargerFirmware/installation/{id}``."""

    ChargerId: str
    DeviceType: int = 0
    IsOnline: bool
    CurrentVersion: str
    AvailableVersion: str = Field(description="chargegrid tracks no releases: the current one")
    IsUpToDate: bool = True


class StateObservation(BaseModel):
    """One entry of ``GET /api/chargers/{id}/state``."""

    ChargerId: str
    StateId: int
    Timestamp: datetime
    ValueAsString: str
