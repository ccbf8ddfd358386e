"""Settings: one immutable object built from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///" + str(Path("chargegrid.db"))


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8180
    ocpp_port: int = 9000
    demo: bool = False
    # Chargers not configured yet may connect and boot Pending until an operator accepts them.
    auto_register: bool = False
    # Echo SQL for debugging; never on by default.
    sql_echo: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Environment first (``CHARGEGRID_*``), then explicit overrides that are not None."""
        env = os.environ
        settings = cls(
            database_url=env.get("CHARGEGRID_DATABASE_URL", DEFAULT_DATABASE_URL),
            host=env.get("CHARGEGRID_HOST", "127.0.0.1"),
            port=int(env.get("CHARGEGRID_PORT", "8180")),
            ocpp_port=int(env.get("CHARGEGRID_OCPP_PORT", "9000")),
            auto_register=env.get("CHARGEGRID_AUTO_REGISTER", "").lower() in {"1", "true", "yes"},
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **given)  # type: ignore[arg-type]
