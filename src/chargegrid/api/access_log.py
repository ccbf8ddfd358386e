"""The HTTP access log, HTTP metrics and the ``RateLimit`` headers: one ASGI middleware,
because all three need the moment an answer starts.

One line per request: method, path, status, duration, the route template, and who
called (the token's id, role and name as the API's authentication found them, never the
token). Probes and scrapes (``/healthz``, ``/readyz``, ``/metrics``) and static files
are logged at DEBUG: they come every few seconds and say nothing an operator needs.
Metrics are labelled by route template (``/api/v1/sites/{site_id}``), never the raw
path, so their number stays bounded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chargegrid.api.rate_limit import quota_headers
from chargegrid.metrics import HTTP_REQUESTS, HTTP_SECONDS

log = logging.getLogger("chargegrid.access")

QUIET_PREFIXES = ("/healthz", "/readyz", "/metrics", "/static", "/favicon")


def route_of(scope: Scope) -> str:
    """The matched route's template with its router's prefix (``/api/v1/sites/{site_id}``);
    ``unmatched`` for 404s and mounted static files."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    regex = getattr(route, "path_regex", None)
    if not isinstance(template, str) or regex is None:
        return "unmatched"
    # An included router's route knows its own path, not the prefix it was included
    # under: the prefix is the part of the request's path before what the route matched.
    path: str = scope["path"]
    for start, char in enumerate(path):
        if char == "/" and regex.match(path[start:]):
            return path[:start] + template
    return template


def _who(state: dict[str, Any]) -> dict[str, Any]:
    principal = state.get("principal")
    if principal is None:
        return {}
    who: dict[str, Any] = {"role": principal.role.value}
    if principal.token_id is not None:
        who["token_id"] = str(principal.token_id)
    name = getattr(principal, "name", None)
    if name:
        who["token_name"] = name
    return who


class AccessLog:
    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.app_state = state  # the FastAPI app's: where the rate limiter lives

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_state: dict[str, Any] = scope.setdefault("state", {})
        status = 500  # what the client gets if the app raises before answering

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                key = request_state.get("rate_limit_key")
                if key is not None:
                    limiter = self.app_state.rate_limiter
                    headers = [*message.get("headers", []), *quota_headers(limiter, key)]
                    message = {**message, "headers": headers}
                HTTP_SECONDS.labels(scope["method"], route_of(scope)).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self._done(scope, request_state, status, time.perf_counter() - started)

    def _done(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        method: str = scope["method"]
        route = route_of(scope)
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        path: str = scope["path"]
        if status >= 500:
            level = logging.WARNING
        elif path.startswith(QUIET_PREFIXES):
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not log.isEnabledFor(level):
            return
        client = scope.get("client")
        duration_ms = round(seconds * 1000, 1)
        log.log(
            level,
            "%s %s %d %.1f ms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "client": client[0] if client else None,
                **_who(state),
            },
        )
