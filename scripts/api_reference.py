"""Write the operations reference in docs/api.md from the app's own OpenAPI document.

    .venv/bin/python scripts/api_reference.py          # rewrite the generated section
    .venv/bin/python scripts/api_reference.py --check  # exit 1 when it is out of date

Only the text between the two markers is ours; the hand-written sections around them
stay as they are. The document is built from the app itself (no server, no database
connection), so the reference cannot drift from what ``/api/v1/openapi.json`` serves;
tests/integration/test_api_reference.py fails when the file is stale.

Each operation's roles come from its description's ``Roles:`` line (the router's
docstring): who may call it is decided in the services, not declared on the route, so
the docstring is the one place that says it.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "api.md"
BEGIN = "<!-- BEGIN GENERATED OPERATIONS -->"
END = "<!-- END GENERATED OPERATIONS -->"
METHODS = ("get", "post", "put", "patch", "delete")
ROLES_PREFIX = "Roles:"
# The section's heading and first lines: written out on the first run, kept after.
HEADER = """\
## Operations (generated)

Every operation the server documents, by tag, from the app's OpenAPI document
(`.venv/bin/python scripts/api_reference.py` rewrites this section; a test fails when
it is stale). Paths are shown whole, `/api/v1` included. Body fields in **bold** are
required. Every operation may also answer 401 (no or unknown token), 429 (rate
limited) and, where it names a resource, 404 (unknown or outside the token's sites),
all as `application/problem+json`."""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    tag: str
    summary: str
    description: str
    spec: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in re.split(r"\n\s*\n", self.description) if p.strip()]

    @property
    def roles(self) -> str:
        """The description's ``Roles:`` paragraph on one line, or "" when it has none."""
        for paragraph in self.paragraphs:
            if paragraph.startswith(ROLES_PREFIX):
                return " ".join(paragraph[len(ROLES_PREFIX) :].split())
        return ""


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the server serves, built without serving anything."""
    from chargegrid.app import build_app
    from chargegrid.config import Settings

    # build_app creates an engine but connects only on a request: the file is never made.
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/never-opened.db"
        schema: dict[str, Any] = build_app(Settings(database_url=url)).openapi()
    return schema


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation in the document, in the order the app registers them."""
    found: list[Operation] = []
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            tags = spec.get("tags") or ["other"]
            found.append(
                Operation(
                    method=method,
                    path=path,
                    tag=tags[0],
                    summary=(spec.get("summary") or "").strip(),
                    description=(spec.get("description") or "").strip(),
                    spec=spec,
                )
            )
    return found


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and the ``anyOf [X, null]`` pydantic writes for optional fields."""
    for _ in range(10):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = document["components"]["schemas"][name]
        elif "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            if len(options) != 1:
                return schema
            schema = options[0]
        else:
            return schema
    return schema


def _fields(document: dict[str, Any], schema: dict[str, Any], bold: bool = False) -> str:
    """An object's field names (with ``bold``, the required ones bold: an answer's are
    all required, so bold says something only in a request); a list's items' fields in
    brackets."""
    schema = _resolve(document, schema)
    if schema.get("type") == "array":
        inner = _fields(document, schema.get("items", {}), bold)
        return f"list of: {inner}" if inner else "a list"
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return ""
    required = set(schema.get("required", []))
    parts = []
    for name, field_schema in properties.items():
        label = f"**`{name}`**" if bold and name in required else f"`{name}`"
        inner_schema = _resolve(document, field_schema)
        if inner_schema.get("type") == "array":
            items = _resolve(document, inner_schema.get("items", {}))
            if items.get("properties"):
                label += f" [{_fields(document, items, bold)}]"
        parts.append(label)
    return ", ".join(parts)


def _parameters(op: Operation) -> str:
    by_place: dict[str, list[str]] = {}
    for parameter in op.spec.get("parameters", []):
        name = f"`{parameter['name']}`"
        by_place.setdefault(parameter["in"], []).append(name)
    return "; ".join(f"{place}: {', '.join(names)}" for place, names in by_place.items())


def _body(document: dict[str, Any], op: Operation) -> str:
    content = op.spec.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"].get("schema", {})
        return _fields(document, schema, bold=True) or "JSON"
    return ", ".join(f"`{media}`" for media in content)


def _answers(document: dict[str, Any], op: Operation) -> Iterator[str]:
    for status, response in op.spec.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        content: dict[str, Any] = response.get("content", {})
        if not content:
            yield f"{status}: no body"
            continue
        parts = []
        for media, body in content.items():
            fields = _fields(document, body.get("schema", {})) if "json" in media else ""
            parts.append(f"`{media}` {fields}".rstrip())
        yield f"{status}: " + "; ".join(parts)


def _explanation(op: Operation) -> str:
    """The description without its Roles paragraph, which the reference shows apart."""
    kept = [p for p in op.paragraphs if not p.startswith(ROLES_PREFIX)]
    return "\n\n".join(kept)


def render(document: dict[str, Any]) -> str:
    """The generated section: every operation by tag, markers excluded."""
    by_tag: dict[str, list[Operation]] = {}
    for op in operations(document):
        by_tag.setdefault(op.tag, []).append(op)
    out = [HEADER, ""]
    for tag, ops in by_tag.items():
        out += [f"### {tag}", ""]
        out += ["| operation | summary | roles |", "|---|---|---|"]
        out += [f"| `{op.key}` | {op.summary} | {op.roles or 'not documented yet'} |" for op in ops]
        out.append("")
        for op in ops:
            out += [
                f"#### `{op.key}`",
                "",
                f"**{op.summary}.** Roles: {op.roles or 'not documented yet'}.",
                "",
            ]
            facts = []
            if parameters := _parameters(op):
                facts.append(f"- Parameters: {parameters}")
            if body := _body(document, op):
                facts.append(f"- Body: {body}")
            facts += [f"- Answer {answer}" for answer in _answers(document, op)]
            out += [*facts, ""]
            if explanation := _explanation(op):
                out += [explanation, ""]
    return "\n".join(out).rstrip() + "\n"


def rewrite(text: str, section: str) -> str:
    """``text`` with the part between the markers replaced (markers added at the end
    the first time)."""
    block = f"{BEGIN}\n{section}{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + block + tail
    return text.rstrip() + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/api.md is stale")
    args = parser.parse_args(argv)
    current = DOC_PATH.read_text(encoding="utf-8")
    wanted = rewrite(current, render(openapi_document()))
    if args.check:
        if wanted != current:
            print(f"{DOC_PATH} is stale: run scripts/api_reference.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        DOC_PATH.write_text(wanted, encoding="utf-8")
        print(f"rewrote {DOC_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
