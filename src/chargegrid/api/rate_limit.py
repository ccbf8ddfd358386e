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

Every limited request's answer (429 included) carries the IETF draft's fields
(draft-ietf-httpapi-ratelimit-headers-10): ``RateLimit-Policy: "default";q=BURST;w=W``
(a burst of q requests, refilled over w seconds) and ``RateLimit: "default";r=R;t=T``
(R requests left now, T seconds until the bucket is full again), so a script can pace
itself before it meets a 429. ``api/access_log.py`` writes them when the answer starts,
from the bucket this request was charged to (``request.state.rate_limit_key``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from chargegrid.api.problems import RateLimited
from chargegrid.config import Settings
from chargegrid.metrics import RATE_LIMITED
from chargegrid.services.auth import Principal, hash_token
from chargegrid.services.rate_limit import RateLimiter, retry_after_seconds

POLICY = "default"


def install(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limiter = RateLimiter(settings.rate_limit, settings.rate_burst)


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def _take(request: Request, key: str, kind: str) -> None:
    request.state.rate_limit_key = key
    wait_s = _limiter(request).take(key)
    if wait_s > 0:
        RATE_LIMITED.labels(kind).inc()
        raise RateLimited(retry_after_seconds(wait_s))


def quota_headers(limiter: RateLimiter, key: str) -> list[tuple[bytes, bytes]]:
    """``RateLimit-Policy`` and ``RateLimit`` for ``key``'s bucket now; none when off."""
    quota = limiter.quota(key)
    if quota is None:
        return []
    policy = f'"{POLICY}";q={int(limiter.burst)};w={limiter.window_s}'
    now = f'"{POLICY}";r={quota.remaining};t={quota.reset_s}'
    return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", now.encode())]


def limit_failed_auth(request: Request) -> None:
    """One failed authentication from the caller's address; 429 once they are too many."""
    # request.client is the peer uvicorn saw (after its trusted --proxy-headers
    # handling); a raw X-Forwarded-For would let anyone pick their own bucket.
    host = request.client.host if request.client is not None else "unknown"
    _take(request, "auth-failed:" + host, "auth_failed")


def limit_principal(request: Request, principal: Principal, token: str) -> None:
    """One request by an authenticated token."""
    # The token's row id when there is one; otherwise its digest, never the secret itself.
    key = str(principal.token_id) if principal.token_id is not None else hash_token(token)
    request.state.principal = principal
    _take(request, "token:" + key, "token")
