"""``chargegrid ca``: the built-in CA from the command line (docs/security.md).

chargegrid ca init --hostname csms.example.com [--hostname 10.0.0.5] [--out DIR]
chargegrid ca server-cert [--hostname NAME]...   # new server certificate
chargegrid ca show
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from chargegrid.config import Settings
from chargegrid.pki import x509 as px
from chargegrid.services.certificates import (
    issue_server_certificate,
    make_ca,
    store_ca,
    write_root,
)
from chargegrid.services.pki_ports import CSMS_CA, ROOT, SERVER
from chargegrid.store.db import Database
from chargegrid.store.migrate import upgrade
from chargegrid.store.pki_store import SqlPkiStore

DEFAULT_OUT = "chargegrid-ca"


def add_parser(commands: Any) -> None:
    ca = commands.add_parser("ca", help="the built-in CA for wss (security profiles 2 and 3)")
    ca_commands = ca.add_subparsers(dest="ca_command", required=True)
    init = ca_commands.add_parser(
        "init", help="create a root, a CSMS sub-CA and the server certificate"
    )
    init.add_argument(
        "--hostname",
        action="append",
        required=True,
        metavar="NAME",
        help="a name or IP chargers use to reach this server (repeatable; the first is the CN)",
    )
    init.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"where root.pem and the root's key go (default ./{DEFAULT_OUT})",
    )
    init.add_argument("--organization", default=None, help="O= in the CA names")
    init.add_argument("--key-type", choices=["ec", "rsa"], default="ec", help="P-256 or RSA 2048")
    init.add_argument("--root-cert", default=None, help="import an operator's root (PEM)...")
    init.add_argument("--root-key", default=None, help="... and its key: we make a sub-CA under it")
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    init.add_argument("--database-url", default=None)
    server = ca_commands.add_parser("server-cert", help="issue a new server certificate")
    server.add_argument("--hostname", action="append", default=None, metavar="NAME")
    server.add_argument("--key-type", choices=["ec", "rsa"], default="ec")
    server.add_argument("--database-url", default=None)
    show = ca_commands.add_parser("show", help="what the CA holds")
    show.add_argument("--database-url", default=None)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.ca_command == "init":
        if bool(args.root_cert) != bool(args.root_key):
            raise ValueError("--root-cert and --root-key go together")
        root_import = None
        if args.root_cert:
            root_import = (Path(args.root_cert).read_text(), Path(args.root_key).read_text())
        ca = make_ca(
            args.hostname,
            organization=args.organization,
            key_type=args.key_type,
            root_import=root_import,
        )
        asyncio.run(_with_store(settings, lambda s: store_ca(s, ca, force=args.force)))
        root_path, key_path = write_root(ca, Path(args.out))
        print(f"CA ready; server certificate for {', '.join(ca.hostnames)}")
        print(f"root certificate (install on chargers, or GET /api/v1/pki/root.pem): {root_path}")
        if key_path is not None:
            print(f"root key (keep it offline; needed only for a new sub-CA): {key_path}")
        return 0
    if args.ca_command == "server-cert":
        material = asyncio.run(
            _with_store(
                settings, lambda s: issue_server_certificate(s, args.hostname, args.key_type)
            )
        )
        info = px.summary(px.load_cert(material.cert_pem))
        print(f"server certificate for {', '.join(material.hostnames)} until {info.not_after}")
        print("a running server uses it from its next TLS handshake (within --tls-reload-s)")
        return 0
    materials = asyncio.run(_with_store(settings, lambda s: s.materials()))
    if not materials:
        print("no CA: run `chargegrid ca init --hostname HOST`")
        return 1
    for role in (ROOT, CSMS_CA, SERVER):
        if role in materials:
            info = px.summary(px.load_cert(materials[role].cert_pem))
            names = f" names={','.join(materials[role].hostnames)}" if role == SERVER else ""
            print(f"{role}: {info.subject} serial={info.serial} until={info.not_after}{names}")
    return 0


async def _with_store(settings: Settings, work: Any) -> Any:
    db = Database(settings.database_url)
    try:
        await upgrade(db.engine)
        return await work(SqlPkiStore(db.engine))
    finally:
        await db.dispose()
