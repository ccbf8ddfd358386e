"""The ``chargegrid`` command: serve, simulate, db upgrade, token create, ca init."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import uvloop
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from chargegrid import logging_setup
from chargegrid.config import Settings
from chargegrid.domain.errors import DomainError, InvalidValue
from chargegrid.ocpp.gc_tuning import calm_gc
from chargegrid.ops_cli import COMMANDS as OPS_COMMANDS
from chargegrid.ops_cli import add_parsers as add_ops_parsers
from chargegrid.ops_cli import run as run_ops
from chargegrid.pki.cli import add_parser as add_ca_parser
from chargegrid.pki.cli import run as run_ca
from chargegrid.services.auth import Role, create_token, parse_role, revoke_token
from chargegrid.sim.cli import add_arguments as add_simulate_arguments
from chargegrid.sim.cli import run as run_simulation
from chargegrid.store.db import Database, is_sqlite
from chargegrid.store.migrate import current_revision, upgrade
from chargegrid.store.pagination import MAX_LIMIT
from chargegrid.store.uow import UnitOfWork


def _log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=logging_setup.LOG_FORMATS,
        default=None,
        help="text (default) or json: one object per line (env CHARGEGRID_LOG_FORMAT)",
    )
    parser.add_argument(
        "--log-level",
        choices=logging_setup.LOG_LEVELS,
        default=None,
        help="default info (env CHARGEGRID_LOG_LEVEL)",
    )


def _split_log_options(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """``--log-format``/``--log-level`` wherever they are (``chargegrid --log-level debug
    serve`` and ``chargegrid serve --log-level debug`` alike), and the rest of ``argv``:
    every command takes them without each sub-parser (simulate's, ca's) declaring them."""
    options = argparse.ArgumentParser(prog="chargegrid", add_help=False)
    _log_options(options)
    return options.parse_known_args(argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chargegrid", description=__doc__)
    _log_options(parser)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the REST API, dashboard and OCPP")
    serve.add_argument("--host", default=None, help="default 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="HTTP port, default 8180")
    serve.add_argument("--ocpp-port", type=int, default=None, help="OCPP port, default 9000")
    serve.add_argument("--database-url", default=None, help="default: SQLite ./chargegrid.db")
    serve.add_argument(
        "--ocpp-tls-port", type=int, default=None, help="also serve wss on this port"
    )
    serve.add_argument(
        "--tls-cert", default=None, help="PEM certificate chain for wss (default: the CA's)"
    )
    serve.add_argument("--tls-key", default=None, help="PEM private key for wss")
    serve.add_argument(
        "--tls-client-ca", default=None, help="PEM CA that profile-3 client certificates chain to"
    )
    serve.add_argument(
        "--tls-reload-s",
        type=float,
        default=None,
        help="how often to look for new certificates and keys (default 30)",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=None,
        metavar="CIDR",
        help="a TLS-terminating proxy whose X-Forwarded-Proto/X-SSL-Client-Cert are "
        "believed (repeatable; docs/security.md)",
    )
    serve.add_argument(
        "--ocpp-public-url",
        default=None,
        help="the wss URL chargers reach us at, e.g. wss://csms.example.com/ocpp/",
    )
    serve.add_argument(
        "--nats-url",
        default=None,
        help="cluster mode: NATS (JetStream) URL, e.g. nats://127.0.0.1:4222; needs PostgreSQL",
    )
    serve.add_argument(
        "--node-id", default=None, help="cluster mode: this node's id (default: host-port)"
    )
    serve.add_argument("--demo", action="store_true", help="seed and simulate a demo site")
    serve.add_argument(
        "--auto-register", action="store_true", default=None, help="accept unknown chargers"
    )

    simulate = commands.add_parser("simulate", help="run simulated chargers against a CSMS")
    add_simulate_arguments(simulate)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    for name, text in (("upgrade", "apply migrations"), ("current", "print the revision")):
        sub = db_commands.add_parser(name, help=text)
        sub.add_argument("--database-url", default=None)

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a token; printed once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument(
        "--site", action="append", default=None, metavar="SITE_ID", help="scope (repeatable)"
    )
    create.add_argument("--name", default=None, help="a note on who holds it")
    create.add_argument("--database-url", default=None)
    listing = token_commands.add_parser("list", help="list tokens (never their secret)")
    listing.add_argument("--database-url", default=None)
    revoke = token_commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id", metavar="TOKEN_ID")
    revoke.add_argument("--database-url", default=None)
    add_ca_parser(commands)
    add_ops_parsers(commands)
    return parser


class NoDatabase(Exception):
    """A command that needs an existing database was pointed at none."""


def _where(url: str) -> str:
    """The URL as a person may read it: never its password."""
    return make_url(url).render_as_string(hide_password=True)


def _require_sqlite_file(url: str) -> None:
    if not is_sqlite(url):
        return
    path = make_url(url).database
    if path and path != ":memory:" and not Path(path).is_file():
        raise NoDatabase(
            f"no database at {path}; run `chargegrid db upgrade --database-url {url}` "
            "first, or name the right one with --database-url"
        )


async def _with_db(settings: Settings, migrate: bool = True) -> Database:
    """The database; ``migrate=False``: one that ``db upgrade`` made already. Opening a
    SQLite URL creates its file, so a typo'd path or directory would silently get an
    empty database with one token in it: refused before anything is opened."""
    url = settings.database_url
    if not migrate:
        _require_sqlite_file(url)
    db = Database(url)
    if migrate:
        await upgrade(db.engine)
        return db
    try:
        revision = await current_revision(db.engine)
    except BaseException:
        await db.dispose()
        raise
    if revision is None:
        await db.dispose()
        raise NoDatabase(f"{_where(url)} has no chargegrid schema; run `chargegrid db upgrade`")
    return db


async def _db_command(settings: Settings, command: str) -> None:
    db = await _with_db(settings) if command == "upgrade" else Database(settings.database_url)
    try:
        print(await current_revision(db.engine) or "empty")
    finally:
        await db.dispose()


async def _create_token(
    settings: Settings, role: str, sites: list[str] | None, name: str | None
) -> str:
    try:
        site_ids = [uuid.UUID(s) for s in sites] if sites else None
    except ValueError as exc:
        raise InvalidValue.of("site", "not a site id (a UUID)") from exc
    db = await _with_db(settings, migrate=False)
    try:
        async with UnitOfWork(db) as uow:
            return await create_token(uow, parse_role(role), site_ids, name)
    finally:
        await db.dispose()


async def _list_tokens(settings: Settings) -> list[str]:
    db = await _with_db(settings, migrate=False)
    try:
        async with UnitOfWork(db) as uow:
            rows = await uow.tokens.page(uow.tokens.select(), MAX_LIMIT, None)
            lines = ["id\trole\tsites\tcreated\trevoked\tname"]
            for t in rows.items:
                sites = ",".join(t.site_ids) if t.site_ids else "*"
                revoked = t.revoked_at.isoformat() if t.revoked_at else "-"
                created = t.created_at.isoformat()
                lines.append(f"{t.id}\t{t.role}\t{sites}\t{created}\t{revoked}\t{t.name or ''}")
            return lines
    finally:
        await db.dispose()


async def _revoke_token(settings: Settings, token_id: str) -> None:
    try:
        parsed = uuid.UUID(token_id)
    except ValueError as exc:
        raise InvalidValue.of("token_id", "not a token id (a UUID)") from exc
    db = await _with_db(settings, migrate=False)
    try:
        async with UnitOfWork(db) as uow:
            await revoke_token(uow, parsed)
    finally:
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    log_options, rest = _split_log_options(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(rest)
    try:
        settings = Settings.from_env(
            database_url=getattr(args, "database_url", None),
            log_format=log_options.log_format,
            log_level=log_options.log_level,
        )
    except ValueError as exc:  # a bad CHARGEGRID_* variable
        print(f"chargegrid: {exc}", file=sys.stderr)
        return 2
    logging_setup.configure(settings.log_format, settings.log_level)
    try:
        if args.command == "serve":
            from chargegrid.app import serve

            settings = Settings.from_env(
                log_format=settings.log_format,
                log_level=settings.log_level,
                database_url=args.database_url,
                host=args.host,
                port=args.port,
                ocpp_port=args.ocpp_port,
                ocpp_tls_port=args.ocpp_tls_port,
                tls_cert=args.tls_cert,
                tls_key=args.tls_key,
                tls_client_ca=args.tls_client_ca,
                tls_reload_s=args.tls_reload_s,
                trusted_proxies=tuple(args.trusted_proxy) if args.trusted_proxy else None,
                ocpp_public_url=args.ocpp_public_url,
                demo=args.demo or None,
                auto_register=args.auto_register,
                nats_url=args.nats_url,
                node_id=args.node_id,
            )
            # uvloop and a calmer cyclic GC: more OCPP messages per CPU-second and a
            # steadier p99 (ocpp/gc_tuning.py, bench/results/ocpp.md).
            calm_gc()
            uvloop.run(serve(settings))
        elif args.command == "simulate":
            return run_simulation(args)
        elif args.command == "ca":
            return run_ca(args, settings)
        elif args.command in OPS_COMMANDS:
            return run_ops(args)
        elif args.command == "db":
            asyncio.run(_db_command(settings, args.db_command))
        elif args.command == "token" and args.token_command == "list":
            for line in asyncio.run(_list_tokens(settings)):
                print(line)
        elif args.command == "token" and args.token_command == "revoke":
            asyncio.run(_revoke_token(settings, args.token_id))
            print(f"revoked {args.token_id}")
        elif args.command == "token":
            token = asyncio.run(_create_token(settings, args.role, args.site, args.name))
            scope = ", ".join(args.site) if args.site else "all sites"
            print(
                f"New {args.role} token for {scope}; it is shown only this once:", file=sys.stderr
            )
            print(token)
    except (DomainError, ValueError, NoDatabase) as exc:  # NotFound, InvalidValue, a bad URL
        print(f"chargegrid: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a port in use, a database server that is not there
        print(f"chargegrid: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # the database refused us (credentials, no such db)
        reason = str(exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc)
        first = reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__
        print(f"chargegrid: database {_where(settings.database_url)}: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
