"""Every table the migrations create: the model the API maps (``models``), the OCPP
server's own tables (``ocpp_tables``), the CA's (``pki_tables``) and the load
history's (``history_tables``). Apart from all, so none imports another."""

from __future__ import annotations

from sqlalchemy import MetaData

import chargegrid.store.held_limits  # noqa: F401 (its table is on Base.metadata)
from chargegrid.store import aliases, event_log  # noqa: F401 (their tables are on Base.metadata)
from chargegrid.store.history_tables import metadata as history_metadata
from chargegrid.store.models import Base
from chargegrid.store.ocpp_tables import metadata as ocpp_metadata
from chargegrid.store.pki_tables import metadata as pki_metadata


def target_metadata() -> list[MetaData]:
    return [Base.metadata, ocpp_metadata, pki_metadata, history_metadata]
