"""The operator's commands, against a running server over its REST API:

chargegrid site list | show SITE_ID | set-current SITE_ID AMPS [--phase N] [--for SECONDS]
chargegrid charger list [--site SITE_ID] | show CHARGER_ID
chargegrid session list [--status active|completed|refused] [--charger ID] [--limit N]
chargegrid session end SESSION_ID --reason TEXT
chargegrid tag import FILE.csv

Each takes ``--url`` (``CHARGEGRID_URL``, default http://127.0.0.1:8180) and ``--token``
(``CHARGEGRID_TOKEN``). Going through the API rather than the database means the same
roles, the same validation and the same messages as the dashboard and curl: an error is
the API's problem+json in one line (``422 available_current: ...``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

DEFAULT_URL = "http://127.0.0.1:8180"
COMMANDS = ("site", "charger", "session", "tag")
TAG_COLUMNS = (
    "id_tag",
    "status",
    "expires_at",
    "parent_id_tag",
    "site_id",
    # Deadline defaults (docs/deadlines.md).
    "default_departure_time",
    "default_dwell_s",
    "default_energy_wh",
)
# Sent as JSON numbers (the API takes no "3600" for 3600); a cell that is no number is
# sent as written, and the server's 422 names the column.
TAG_NUMBERS: dict[str, type[int] | type[float]] = {
    "default_dwell_s": int,
    "default_energy_wh": float,
}
# Waiting out a 429 is what a script should do; more than this per request means the
# server is throttling far below what it says in Retry-After.
MAX_RETRIES = 5
PAGE = 200


class ApiError(Exception):
    """An HTTP error answer, said in one line from its problem+json."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(describe_error(response))
        self.status = response.status_code


def describe_error(response: httpx.Response) -> str:
    """``STATUS detail; field: message; ...`` from problem+json, else the status line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    parts: list[str] = []
    if isinstance(body, dict):
        # Field errors say it all (the detail repeats them); otherwise the detail.
        for error in body.get("errors") or []:
            if isinstance(error, dict):
                parts.append(f"{error.get('field')}: {error.get('message')}")
        if not parts and body.get("detail"):
            parts.append(str(body["detail"]))
    if not parts:
        parts.append(response.reason_phrase or "error")
    return f"{response.status_code} " + "; ".join(parts)


def add_parsers(commands: Any) -> None:
    """``site``, ``charger``, ``session`` and ``tag`` under ``chargegrid``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("CHARGEGRID_URL", DEFAULT_URL),
        help=f"the server (env CHARGEGRID_URL, default {DEFAULT_URL})",
    )
    common.add_argument(
        "--token", default=None, help="an API token (env CHARGEGRID_TOKEN; better than argv)"
    )

    site = commands.add_parser("site", help="sites on a running server").add_subparsers(
        dest="ops_command", required=True
    )
    site.add_parser("list", parents=[common], help="id, name, fuse, override")
    show = site.add_parser("show", parents=[common], help="a site as JSON")
    show.add_argument("site_id")
    current = site.add_parser(
        "set-current", parents=[common], help="override the available current (-1 clears)"
    )
    current.add_argument("site_id")
    current.add_argument("amps", type=float, help="A per phase; -1 clears the override")
    current.add_argument("--phase", type=int, choices=(1, 2, 3), help="only this phase")
    current.add_argument(
        "--for", dest="ttl_s", type=float, default=None, metavar="SECONDS", help="then lapse"
    )

    charger = commands.add_parser("charger", help="chargers on a running server")
    charger_commands = charger.add_subparsers(dest="ops_command", required=True)
    listing = charger_commands.add_parser("list", parents=[common], help="one line each")
    listing.add_argument("--site", default=None, metavar="SITE_ID")
    show = charger_commands.add_parser("show", parents=[common], help="a charger as JSON")
    show.add_argument("charger_id")

    session = commands.add_parser("session", help="charging sessions on a running server")
    session_commands = session.add_subparsers(dest="ops_command", required=True)
    listing = session_commands.add_parser("list", parents=[common], help="newest first")
    listing.add_argument("--status", choices=("active", "completed", "refused"), default=None)
    listing.add_argument("--charger", default=None, metavar="CHARGER_ID")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    end = session_commands.add_parser("end", parents=[common], help="end a stuck session")
    end.add_argument("session_id")
    end.add_argument("--reason", required=True, help="why (kept in the audit)")

    tag = commands.add_parser("tag", help="id tags on a running server")
    tag_commands = tag.add_subparsers(dest="ops_command", required=True)
    importing = tag_commands.add_parser(
        "import",
        parents=[common],
        help="create id tags from a CSV with a header: " + ",".join(TAG_COLUMNS),
    )
    importing.add_argument("file", type=Path, metavar="FILE.csv")


@dataclass
class Client:
    """The REST API with a bearer token; waits out 429s as Retry-After says."""

    http: httpx.Client
    sleep: Callable[[float], None] = time.sleep
    waited_s: float = 0.0

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for _ in range(MAX_RETRIES):
            response = self.http.request(method, path, **kwargs)
            if response.status_code != 429:
                return response
            wait = float(response.headers.get("Retry-After", "1"))
            self.waited_s += wait
            self.sleep(wait)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json() if response.content else None

    def pages(self, path: str, params: dict[str, Any], limit: int | None = None) -> Iterator[Any]:
        """Every item of a list (``data``/``next_cursor``), up to ``limit``."""
        count = 0
        cursor: str | None = None
        while True:
            query = {**params, "limit": PAGE} | ({"cursor": cursor} if cursor else {})
            page = self.json("GET", path, params=query)
            for item in page["data"]:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _table(rows: Sequence[Sequence[Any]], out: TextIO) -> None:
    for row in rows:
        print("\t".join("-" if v is None else str(v) for v in row), file=out)


def _show(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), file=out)


def site_command(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    if args.ops_command == "list":
        rows: list[Sequence[Any]] = [("id", "name", "max_current", "available_current")]
        for s in client.pages("/sites", {}):
            rows.append((s["id"], s["name"], s.get("max_current"), s.get("available_current")))
        _table(rows, out)
    elif args.ops_command == "show":
        _show(client.json("GET", f"/sites/{args.site_id}"), out)
    else:
        name = "available_current" if args.phase is None else f"available_current_phase{args.phase}"
        body: dict[str, Any] = {name: args.amps}
        if args.ttl_s is not None:
            body["available_current_ttl_s"] = args.ttl_s
        site = client.json("PATCH", f"/sites/{args.site_id}", json=body)
        print(f"{name} = {site.get(name)}", file=out)
    return 0


def charger_command(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    if args.ops_command == "show":
        _show(client.json("GET", f"/chargers/{args.charger_id}"), out)
        return 0
    params = {"site_id": args.site} if args.site else {}
    rows: list[Sequence[Any]] = [("id", "ocpp_id", "online", "status", "ocpp_version", "site_id")]
    for c in client.pages("/chargers", params):
        online = "online" if c.get("online") else "offline"
        rows.append(
            (c["id"], c["ocpp_id"], online, c.get("status"), c.get("ocpp_version"), c["site_id"])
        )
    _table(rows, out)
    return 0


def session_command(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    if args.ops_command == "end":
        body = {"reason": args.reason}
        session = client.json("POST", f"/sessions/{args.session_id}/actions/end", json=body)
        print(f"ended {session['id']} ({session.get('stop_reason') or args.reason})", file=out)
        return 0
    params: dict[str, Any] = {}
    if args.status:
        params["status"] = args.status
    if args.charger:
        params["charger_id"] = args.charger
    rows: list[Sequence[Any]] = [
        ("id", "charger_id", "evse", "id_tag", "active", "energy_wh", "started_at", "stopped_at")
    ]
    for s in client.pages("/sessions", params, limit=args.limit):
        rows.append(
            (
                s["id"],
                s["charger_id"],
                s["evse_number"],
                s.get("id_tag"),
                s["active"],
                s["energy_wh"],
                s["started_at"],
                s.get("stopped_at"),
            )
        )
    _table(rows, out)
    return 0


@dataclass
class ImportResult:
    created: int = 0
    existed: int = 0
    failed: list[str] = field(default_factory=list)


def read_tags(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Rows of the CSV as (line number, the non-empty known columns). Raises ValueError
    naming what is wrong with the file itself (no id_tag column, unknown columns)."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "id_tag" not in columns:
            raise ValueError(f"{path}: the first line must name the columns, with id_tag")
        unknown = sorted(set(columns) - set(TAG_COLUMNS))
        if unknown:
            raise ValueError(
                f"{path}: unknown column(s) {', '.join(unknown)}; known: {', '.join(TAG_COLUMNS)}"
            )
        rows = []
        for row in reader:
            values = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
            rows.append((reader.line_num, {k: _cell(k, v) for k, v in values.items() if v}))
        return rows


def _cell(column: str, text: str) -> Any:
    kind = TAG_NUMBERS.get(column)
    if kind is None:
        return text
    try:
        return kind(text)
    except ValueError:
        return text


def import_tags(
    client: Client, rows: list[tuple[int, dict[str, Any]]], progress: Progress | None
) -> ImportResult:
    result = ImportResult()
    task = progress.add_task("id tags", total=len(rows)) if progress is not None else None
    for line, body in rows:
        response = client.request("POST", "/id-tags", json=body)
        if response.status_code < 300:
            result.created += 1
        elif response.status_code == 409:
            result.existed += 1  # an import run twice creates nothing twice
        elif response.status_code in (401, 403):
            raise ApiError(response)  # every other row would say the same
        else:
            result.failed.append(f"line {line} ({body.get('id_tag')}): {describe_error(response)}")
        if progress is not None and task is not None:
            progress.advance(task)
    return result


def tag_command(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    rows = read_tags(args.file)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    # On stderr, so stdout keeps only the summary; a terminal sees it redrawn in place.
    with Progress(*columns, transient=True, console=_stderr_console()) as progress:
        result = import_tags(client, rows, progress)
    for failure in result.failed:
        print(failure, file=sys.stderr)
    print(
        f"{result.created} created, {result.existed} already there, "
        f"{len(result.failed)} refused (of {len(rows)})",
        file=out,
    )
    return 1 if result.failed else 0


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


HANDLERS: dict[str, Callable[[Client, argparse.Namespace, TextIO], int]] = {
    "site": site_command,
    "charger": charger_command,
    "session": session_command,
    "tag": tag_command,
}


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """One operator command; 1 and a line on stderr for an HTTP error or a bad file."""
    token = args.token or os.environ.get("CHARGEGRID_TOKEN")
    if not token:
        print("chargegrid: give a token with --token or CHARGEGRID_TOKEN", file=sys.stderr)
        return 2
    base = args.url.rstrip("/") + "/api/v1"
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "chargegrid-cli"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30.0) as http:
            return HANDLERS[args.command](Client(http), args, out or sys.stdout)
    except ApiError as exc:
        print(f"chargegrid: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"chargegrid: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # the CSV: missing, unreadable, wrong columns
        print(f"chargegrid: {exc}", file=sys.stderr)
        return 1
