"""API tokens: ``X-API-Key: <token>`` or ``Authorization: Bearer <token>``.

Tokens come from ``server.apiKey``, ``server.apiKeys`` and the ``INTERLOCK_API_KEY`` environment
variable; ``server.readOnlyApiKeys`` may only read (GET). With no token configured the API is
open, which ``interlock serve`` allows on a loopback address only (or with ``--insecure``).
``GET /api/health`` is always open. Comparison is constant-time and checks every token. Wrong
keys are throttled per client address (:mod:`.throttle`, one budget with the sign-in form): 429
with ``Retry-After`` to any key presented from that address until the window has passed.
Requests a ``delegate`` claims (the dashboard's pages) pass through unchecked: they authenticate
themselves, with the same tokens, so that a browser gets a login form instead of a 401.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from starlette.types import ASGIApp, Receive, Scope, Send

from interlock_core.model import ServerConfig

from .responses import error_response
from .throttle import KeyThrottle

ENV_API_KEY = "INTERLOCK_API_KEY"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(StrEnum):
    FULL = "full"
    READ_ONLY = "read-only"


@dataclass(frozen=True)
class Tokens:
    full: tuple[bytes, ...] = ()
    read_only: tuple[bytes, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.full or self.read_only)

    def access(self, token: bytes | None) -> Access | None:
        """What ``token`` may do (None: nothing). Checks every token of both kinds."""
        if token is None:
            return None
        full, read_only = _matches(token, self.full), _matches(token, self.read_only)
        return Access.FULL if full else Access.READ_ONLY if read_only else None


def resolve_tokens(server: ServerConfig, env: Mapping[str, str]) -> Tokens:
    def unique(values: Iterable[str | None]) -> tuple[bytes, ...]:
        return tuple(dict.fromkeys(v.encode() for v in values if v))

    return Tokens(full=unique([*server.tokens(), env.get(ENV_API_KEY)]),
                  read_only=unique(server.read_only_api_keys))


def presented_token(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip()
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
    return None


def _matches(candidate: bytes, tokens: tuple[bytes, ...]) -> bool:
    found = False
    for token in tokens:  # no early exit: the time taken does not say which token matched
        found |= hmac.compare_digest(candidate, token)
    return found


class TokenAuth:
    """ASGI middleware. 401 without a valid token, 403 for a read-only token on a write."""

    def __init__(self, app: ASGIApp, tokens: Tokens, public: Iterable[tuple[str, str]] = (),
                 delegate: Callable[[Scope], bool] | None = None, throttle: KeyThrottle | None = None) -> None:
        self.app = app
        self.tokens = tokens
        self.public = frozenset(public)
        self.delegate = delegate
        self.throttle = throttle or KeyThrottle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.tokens.enabled or (scope["method"], scope["path"]) in self.public \
                or (self.delegate is not None and self.delegate(scope)):
            await self.app(scope, receive, send)
            return
        token = presented_token(scope["headers"])
        client = _client(scope)
        wait = self.throttle.retry_after(client) if token is not None else None
        if wait is not None:
            await error_response(429, "too many wrong API keys from this address: try again later",
                                 headers={"Retry-After": str(wait)}, retryAfter=wait)(scope, receive, send)
            return
        if token is not None and _matches(token, self.tokens.full):
            await self.app(scope, receive, send)
            return
        if token is not None and _matches(token, self.tokens.read_only):
            if scope["method"] in READ_METHODS:
                await self.app(scope, receive, send)
                return
            await error_response(403, "this API key may only read")(scope, receive, send)
            return
        if token is not None:
            self.throttle.failed(client)
        await error_response(401, "unauthorized", headers={"WWW-Authenticate": 'Bearer realm="interlock"'})(
            scope, receive, send)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
