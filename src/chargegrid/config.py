"""Settings: one immutable object built from the command line and the environment."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from chargegrid.logging_setup import parse_log_format, parse_log_level
from chargegrid.services.history_settings import HistorySettings

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///" + str(Path("chargegrid.db"))


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8180
    ocpp_port: int = 9000
    # wss beside ws (security profiles 2 and 3): the port, the server's certificate chain
    # and key, and the CA a profile-3 charger's client certificate must chain to.
    ocpp_tls_port: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    # A TLS-terminating proxy in front of the OCPP port (docs/security.md "Behind a
    # proxy"): only peers in these CIDRs may say the charger used TLS and which client
    # certificate it showed (X-Forwarded-Proto, X-SSL-Client-Cert); others are ignored.
    trusted_proxies: tuple[str, ...] = ()
    # The wss URL chargers reach us at (through any proxy), without the charger id,
    # e.g. wss://csms.example.com/ocpp/: what a security-profile change tells a 2.0.1
    # station (SetNetworkProfile ocppCsmsUrl).
    ocpp_public_url: str | None = None
    # How often the wss listener checks its certificate source (files or the built-in CA)
    # for a new certificate, key or client CA; a change applies to the next handshake.
    tls_reload_s: float = 30.0
    demo: bool = False
    # Chargers not configured yet may connect and boot Pending until an operator accepts them.
    auto_register: bool = False
    # Echo SQL for debugging; never on by default.
    sql_echo: bool = False
    # REST requests per second per API token (per address before authentication), with
    # bursts up to rate_burst; 0 in either turns the limit off. A script a person runs
    # (importing a thousand id tags one POST at a time, ~150 requests/s on SQLite) goes
    # through on the burst alone; past it a token keeps 50/s, a sixth of what the API
    # serves (bench/results/api.md), so one runaway client cannot starve the rest. The
    # old 20/s with a burst of 100 let a 300-tag import through only 201 times in 5 s.
    rate_limit: float = 50.0
    rate_burst: int = 1000
    # Sessions (docs/ocpp.md "Refused starts", "When a session ends"): a refused start
    # the charger never closes is closed after refused_start_timeout_s; a transaction
    # not seen again within session_resume_timeout_s of a reboot is closed; a session
    # on a charger offline longer than session_suspect_after_s is marked suspect and no
    # longer keeps its id tag busy.
    refused_start_timeout_s: float = 120.0
    session_resume_timeout_s: float = 300.0
    session_suspect_after_s: float = 600.0
    # Logs (chargegrid.logging_setup): "text" or "json" lines on stderr, and the level.
    log_format: str = "text"
    log_level: str = "info"
    # The load history (services/history_settings.py; CHARGEGRID_HISTORY_*).
    history: HistorySettings = field(default_factory=HistorySettings)
    # Cluster mode (docs/cluster.md): a NATS URL turns it on (PostgreSQL only); the node
    # id names this node to the others (default: host name and API port); the cluster
    # name prefixes every NATS subject and bucket (two clusters may share one NATS).
    nats_url: str | None = None
    node_id: str | None = None
    cluster_name: str = "chargegrid"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Environment first (``CHARGEGRID_*``), then explicit overrides that are not None."""
        env = os.environ
        settings = cls(
            database_url=env.get("CHARGEGRID_DATABASE_URL", DEFAULT_DATABASE_URL),
            host=env.get("CHARGEGRID_HOST", "127.0.0.1"),
            port=int(env.get("CHARGEGRID_PORT", "8180")),
            ocpp_port=int(env.get("CHARGEGRID_OCPP_PORT", "9000")),
            ocpp_tls_port=int(env["CHARGEGRID_OCPP_TLS_PORT"])
            if env.get("CHARGEGRID_OCPP_TLS_PORT")
            else None,
            tls_cert=env.get("CHARGEGRID_TLS_CERT") or None,
            tls_key=env.get("CHARGEGRID_TLS_KEY") or None,
            tls_client_ca=env.get("CHARGEGRID_TLS_CLIENT_CA") or None,
            trusted_proxies=_list(env.get("CHARGEGRID_TRUSTED_PROXIES", "")),
            ocpp_public_url=env.get("CHARGEGRID_OCPP_PUBLIC_URL") or None,
            tls_reload_s=_non_negative(env, "CHARGEGRID_TLS_RELOAD_S", "30", float),
            auto_register=env.get("CHARGEGRID_AUTO_REGISTER", "").lower() in {"1", "true", "yes"},
            rate_limit=_non_negative(env, "CHARGEGRID_RATE_LIMIT", "50", float),
            rate_burst=_non_negative(env, "CHARGEGRID_RATE_BURST", "1000", int),
            refused_start_timeout_s=_non_negative(
                env, "CHARGEGRID_REFUSED_START_TIMEOUT_S", "120", float
            ),
            session_resume_timeout_s=_non_negative(
                env, "CHARGEGRID_SESSION_RESUME_TIMEOUT_S", "300", float
            ),
            session_suspect_after_s=_non_negative(
                env, "CHARGEGRID_SESSION_SUSPECT_AFTER_S", "600", float
            ),
            log_format=parse_log_format(
                env.get("CHARGEGRID_LOG_FORMAT", "text"), "CHARGEGRID_LOG_FORMAT"
            ),
            log_level=parse_log_level(
                env.get("CHARGEGRID_LOG_LEVEL", "info"), "CHARGEGRID_LOG_LEVEL"
            ),
            history=HistorySettings.from_env(env),
            nats_url=env.get("CHARGEGRID_NATS_URL") or None,
            node_id=env.get("CHARGEGRID_NODE_ID") or None,
            cluster_name=env.get("CHARGEGRID_CLUSTER_NAME") or "chargegrid",
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **given)  # type: ignore[arg-type]


N = TypeVar("N", int, float)


def _list(text: str) -> tuple[str, ...]:
    """A comma-separated environment value (``10.0.0.0/8,192.0.2.7``)."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _non_negative(env: Mapping[str, str], name: str, default: str, kind: Callable[[str], N]) -> N:
    text = env.get(name, default)
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < math.inf:
        raise ValueError(f"{name}={text!r}: expected a finite number >= 0")
    return value
