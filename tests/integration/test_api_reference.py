"""Every operation is documented, in the served OpenAPI document and in docs/api.md.

Issue 14: an operation had only the title FastAPI makes of its function name. Each must
now set a summary of its own and a description (its docstring) saying who may call it
on a ``Roles:`` line; docs/api.md's generated section lists exactly the documented
operations and is what scripts/api_reference.py writes today.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from chargegrid.app import build_app
from chargegrid.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "api_reference", ROOT / "scripts/api_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


reference = _load_script()

# Routes outside api/routers/ (the dashboard's, in web/) that are not documented yet; the
# API-docs work may not edit them. The list may only shrink: an entry that has become
# documented fails the test until it is removed here.
NOT_YET_DOCUMENTED: frozenset[str] = frozenset()


def _check_exceptions(failing: dict[str, list[str]]) -> None:
    unexpected = {k: v for k, v in failing.items() if k not in NOT_YET_DOCUMENTED}
    assert not unexpected, "undocumented operations:\n" + "\n".join(
        f"{key}: {why}" for key, reasons in sorted(unexpected.items()) for why in reasons
    )
    fixed = NOT_YET_DOCUMENTED - failing.keys()
    assert not fixed, f"documented now, remove from NOT_YET_DOCUMENTED: {sorted(fixed)}"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    doc: dict[str, Any] = reference.openapi_document()
    return doc


def test_every_operation_sets_a_summary_and_a_description(tmp_path: Path) -> None:
    # From the routes, not the document: FastAPI fills a missing summary with the
    # function's name in title case, which the document cannot tell from a real one.
    app = build_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db"))
    # Included routers are wrapped (FastAPI >= 0.16x); the contexts give the routes.
    routes = [
        (c.path_format, c.original_route)
        for c in iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute) and c.include_in_schema
    ]
    assert len(routes) > 50  # the app's routes, not an empty list that passes
    failing: dict[str, list[str]] = {}
    for path, r in routes:
        for what, bad in (
            ("no summary= on the route", not (r.summary or "").strip()),
            ("no docstring", not (r.description or "").strip()),
            ("no 'Roles:' line in the docstring", "Roles:" not in (r.description or "")),
        ):
            if bad:
                for method in sorted(r.methods or ()):
                    where = f"{r.endpoint.__module__}.{r.name}"
                    failing.setdefault(f"{method} {path}", []).append(f"{what} ({where})")
    _check_exceptions(failing)


def test_summaries_are_short_and_descriptions_name_the_roles(document: dict[str, Any]) -> None:
    ops = reference.operations(document)
    long = [f"{op.key}: {op.summary!r}" for op in ops if len(op.summary) > 60]
    assert not long, "summaries are one short line:\n" + "\n".join(long)
    _check_exceptions(
        {op.key: ["no 'Roles:' line with text after it"] for op in ops if not op.roles}
    )


def _generated_section() -> str:
    text = (ROOT / "docs/api.md").read_text(encoding="utf-8")
    assert reference.BEGIN in text and reference.END in text, (
        "docs/api.md has no generated section: run .venv/bin/python scripts/api_reference.py"
    )
    return str(text.split(reference.BEGIN, 1)[1].split(reference.END, 1)[0])


def test_docs_api_md_lists_exactly_the_documented_operations(document: dict[str, Any]) -> None:
    served = {op.key for op in reference.operations(document)}
    listed = set(re.findall(r"^#### `([A-Z]+ /\S+)`$", _generated_section(), re.MULTILINE))
    assert served, "the OpenAPI document has no operations"
    hint = " (run .venv/bin/python scripts/api_reference.py)"
    assert not served - listed, f"missing from docs/api.md{hint}: {sorted(served - listed)}"
    assert not listed - served, f"in docs/api.md, not served{hint}: {sorted(listed - served)}"


def test_docs_api_md_is_what_the_script_writes_today(document: dict[str, Any]) -> None:
    text = (ROOT / "docs/api.md").read_text(encoding="utf-8")
    regenerated = reference.rewrite(text, reference.render(document))
    assert regenerated == text, (
        "docs/api.md is stale: run .venv/bin/python scripts/api_reference.py"
    )
    # The hand-written sections around the generated one stay.
    assert text.index("## Sessions: history, CSV, totals") < text.index(reference.BEGIN)


def test_rewrite_replaces_only_between_the_markers() -> None:
    before = f"# Title\nkept\n{reference.BEGIN}\nold\n{reference.END}\ntail\n"
    after = reference.rewrite(before, "new\n")
    assert after == f"# Title\nkept\n{reference.BEGIN}\nnew\n{reference.END}\ntail\n"
    assert reference.rewrite(after, "new\n") == after
    first = reference.rewrite("# Title\n", "new\n")
    assert first == f"# Title\n\n{reference.BEGIN}\nnew\n{reference.END}\n"
