"""The API's per-client rate limit: a token bucket per API token, and one per client
address for failed authentications (no token, or one that is unknown or revoked).
Answered as problem+json 429 with ``Retry-After`` (mapped in ``api/problems.py``).

The two never share a bucket: a flood without a valid token from one address brings
that address's failures to 429, and nobody else's requests; a valid token from the same
address (a NAT, a proxy, the attacker's neighbour) still gets in on its own budget. A
token is looked up before its address is charged, so only failures pay.

It is applied where the caller is authenticated (``api.deps.get_principal``), so it
covers exactly the /api/v1 operations: the dashboard's static files, ``/healthz`` and
``/metrics`` are not counted. A server-sent-event stream costs the one request that
opened it, however long it stays open.
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from chargegrid.api.problems import RateLimited
from chargegrid.config import Settings
from chargegrid.services.auth import Principal, hash_token
from chargegrid.services.rate_limit import RateLimiter, retry_after_seconds


def install(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limiter = RateLimiter(settings.rate_limit, settings.rate_burst)


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def _take(request: Request, key: str) -> None:
    wait_s = _limiter(request).take(key)
    if wait_s > 0:
        raise RateLimited(retry_after_seconds(wait_s))


def limit_failed_auth(request: Request) -> None:
    """One failed authentication from the caller's address; 429 once they are too many."""
    # request.client is the peer uvicorn saw (after its trusted --proxy-headers
    # handling); a raw X-Forwarded-For would let anyone pick their own bucket.
    host = request.client.host if request.client is not None else "unknown"
    _take(request, "auth-failed:" + host)


def limit_principal(request: Request, principal: Principal, token: str) -> None:
    """One request by an authenticated token."""
    # The token's row id when there is one; otherwise its digest, never the secret itself.
    key = str(principal.token_id) if principal.token_id is not None else hash_token(token)
    _take(request, "token:" + key)
