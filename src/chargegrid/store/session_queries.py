"""Session queries both transaction paths share (1.6 Start/Stop in ``charger_store``,
2.0.1 TransactionEvent in ``tx_events``), built once so SQLAlchemy reuses their
compiled form."""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select

from chargegrid.services.charger_ports import ACCEPTED
from chargegrid.store.models import Charger, ChargingSession, table_of

sessions = table_of(ChargingSession)
chargers = table_of(Charger)

# Open sessions, with what closing one needs.
OPEN_SESSIONS = select(
    sessions.c.id,
    sessions.c.charger_id,
    sessions.c.connector_id,
    sessions.c.transaction_id,
    sessions.c.authorization_status,
    sessions.c.rebooted_at,
    sessions.c.started_at,
    sessions.c.energy_wh,
).where(sessions.c.stopped_at.is_(None))

# A tag is busy (ConcurrentTx) only for a session that is really running: accepted,
# open, not waiting to be resumed after a reboot, on a charger not offline for long.
TAG_BUSY = (
    select(sessions.c.id)
    .select_from(sessions.join(chargers, chargers.c.id == sessions.c.charger_id))
    .where(
        sessions.c.id_tag == bindparam("b_tag"),
        sessions.c.stopped_at.is_(None),
        sessions.c.authorization_status == ACCEPTED,
        sessions.c.rebooted_at.is_(None),
        or_(chargers.c.online.is_(True), chargers.c.last_seen_at >= bindparam("b_seen_since")),
    )
    .limit(1)
)
# The same, for a 2.0.1 transaction's own tag: its own session does not count.
TAG_BUSY_ELSEWHERE = TAG_BUSY.where(
    or_(
        sessions.c.remote_transaction_id.is_(None),
        sessions.c.remote_transaction_id != bindparam("b_tx"),
    )
)
