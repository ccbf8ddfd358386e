"""``chargegrid ca``: init (with a root of ours or the operator's), server-cert, show."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from chargegrid.cli import main
from chargegrid.pki import x509 as px
from chargegrid.services.pki_ports import CSMS_CA, ROOT, SERVER
from chargegrid.store.db import Database
from chargegrid.store.pki_store import SqlPkiStore
from tests.conftest import run_sync


async def _materials(url: str) -> dict[str, px.Issued]:
    db = Database(url)
    try:
        stored = await SqlPkiStore(db.engine).materials()
    finally:
        await db.dispose()
    return {
        role: px.Issued(px.load_cert(m.cert_pem), px.load_key(m.key_pem) if m.key_pem else None)
        for role, m in stored.items()
    }


def test_init_makes_a_chain_keeps_the_root_key_out_of_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/ca.db"
    out = tmp_path / "ca"
    args = ["ca", "init", "--hostname", "csms.example.com", "--hostname", "127.0.0.1"]
    assert main([*args, "--out", str(out), "--database-url", url]) == 0
    printed = capsys.readouterr().out
    assert str(out / "root.pem") in printed and "root-key.pem" in printed
    stored = run_sync(_materials(url))
    assert stored[ROOT].key is None  # the root's key is the operator's, on disk only
    assert stat.S_IMODE((out / "root-key.pem").stat().st_mode) == 0o600
    root = px.load_cert((out / "root.pem").read_text())
    assert root == stored[ROOT].cert
    stored[CSMS_CA].cert.verify_directly_issued_by(root)
    stored[SERVER].cert.verify_directly_issued_by(stored[CSMS_CA].cert)
    san = stored[SERVER].cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["csms.example.com"]
    # A second init would orphan every certificate the first signed: refused.
    assert main([*args, "--out", str(tmp_path / "again"), "--database-url", url]) == 2
    assert "exists already" in capsys.readouterr().err
    assert run_sync(_materials(url))[CSMS_CA].cert == stored[CSMS_CA].cert
    # A new server certificate, same names, same CA.
    assert main(["ca", "server-cert", "--database-url", url]) == 0
    renewed = run_sync(_materials(url))[SERVER].cert
    assert renewed.serial_number != stored[SERVER].cert.serial_number
    renewed.verify_directly_issued_by(stored[CSMS_CA].cert)
    assert main(["ca", "show", "--database-url", url]) == 0
    shown = capsys.readouterr().out
    assert f"serial={format(renewed.serial_number, 'x')}" in shown


def test_init_under_an_operators_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/ca.db"
    theirs = px.make_root("Operator Root", "Operator")
    (tmp_path / "op.pem").write_text(theirs.cert_pem)
    (tmp_path / "op.key").write_text(theirs.key_pem or "")
    args = ["ca", "init", "--hostname", "localhost", "--out", str(tmp_path / "ca")]
    root_args = ["--root-cert", str(tmp_path / "op.pem"), "--root-key", str(tmp_path / "op.key")]
    assert main([*args, *root_args, "--database-url", url]) == 0
    assert "root key" not in capsys.readouterr().out  # theirs stays theirs
    stored = run_sync(_materials(url))
    assert stored[ROOT].cert == theirs.cert
    stored[CSMS_CA].cert.verify_directly_issued_by(theirs.cert)
    assert not (tmp_path / "ca" / "root-key.pem").exists()
    # Half an import is a usage error.
    assert main([*args, "--root-cert", str(tmp_path / "op.pem"), "--database-url", url]) == 2


def test_show_and_server_cert_without_a_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/none.db"
    assert main(["ca", "show", "--database-url", url]) == 1
    assert "ca init" in capsys.readouterr().out
    assert main(["ca", "server-cert", "--hostname", "x", "--database-url", url]) == 2
    assert "ca init" in capsys.readouterr().err
