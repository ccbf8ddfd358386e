"""Stable integer aliases for sites, circuits, chargers, EVSEs and connectors
(issue 17: vendor APIs use numeric ids; ``store/aliases.py``).

``compat_aliases.alias`` is one auto-incrementing key (a PostgreSQL sequence, SQLite
AUTOINCREMENT): safe under concurrent writers and never reused. An AFTER INSERT trigger
on each aliased table adds the row's alias in the inserting transaction, whoever
inserts (ORM, Core, a charger's boot); existing rows get theirs here, oldest first.

A later migration that makes SQLite recreate one of these tables (batch mode with
anything but ADD COLUMN) drops its trigger with the old table and must create it again;
tests/integration/compat/test_aliases.py checks every kind at head.

Revision ID: ocpp_0013
Revises: ocpp_0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ocpp_0013"
down_revision = "ocpp_0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# kind -> table (as store/aliases.py TABLES; a migration must not import the model).
TABLES = {
    "site": "sites",
    "circuit": "circuits",
    "charger": "chargers",
    "evse": "evses",
    "connector": "connectors",
}
PG_FUNCTION = "compat_alias_on_insert"


def _trigger(table: str) -> str:
    return f"compat_alias_{table}"


def upgrade() -> None:
    op.create_table(
        "compat_aliases",
        sa.Column("alias", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_compat_aliases")),
        sa.UniqueConstraint("kind", "entity_id", name="uq_compat_aliases_kind_entity"),
        sqlite_autoincrement=True,
    )
    for kind, table in TABLES.items():
        op.execute(
            f"INSERT INTO compat_aliases (kind, entity_id) "
            f"SELECT '{kind}', id FROM {table} ORDER BY created_at, id"
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN INSERT INTO compat_aliases (kind, entity_id) VALUES (TG_ARGV[0], NEW.id); "
            "RETURN NULL; END $$"
        )
        for kind, table in TABLES.items():
            op.execute(
                f"CREATE TRIGGER {_trigger(table)} AFTER INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}('{kind}')"
            )
    else:
        for kind, table in TABLES.items():
            op.execute(
                f"CREATE TRIGGER {_trigger(table)} AFTER INSERT ON {table} BEGIN "
                f"INSERT INTO compat_aliases (kind, entity_id) VALUES ('{kind}', NEW.id); END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES.values():
        op.execute(
            f"DROP TRIGGER IF EXISTS {_trigger(table)}" + (f" ON {table}" if postgres else "")
        )
    if postgres:
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
    op.drop_table("compat_aliases")
