"""The HTTP API application and the dashboard (after the API's routes, at ``/``). Middleware is
composed here, in one visible place (outermost first):

1. request context — request id, log context, access log line, latency histogram, last-resort 500
2. browser guard   — 403 cross-site writes, 415 non-JSON API bodies, 421 foreign host names when open
3. token auth      — 401/403 before anything is read, 429 after too many wrong keys from one address
                     (``GET /api/health`` is open; the dashboard's pages check the same keys
                     themselves, to offer a login form, with the same throttle)
4. body limit      — 413 past ``server.maxRequestBody``, 408 past ``server.readTimeout``
5. (Starlette)     — exception handlers turn every error into ``{"error": ...}`` JSON
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware

from interlock_core.engine import Engine
from interlock_core.metrics import METRICS
from interlock_core.model import ServerConfig
from interlock_core.watcher import Watcher

from .auth import TokenAuth, Tokens, resolve_tokens
from .browser_guard import BrowserGuard
from .dashboard import Dashboard
from .dispatch import IndexedRouter
from .errors import EXCEPTION_HANDLERS
from .limits import BodyLimit
from .metrics import alert_queue_collector
from .openapi import openapi_document
from .request_context import RequestContext
from .routes import api_routes
from .state import ApiState
from .throttle import KeyThrottle

PUBLIC = (("GET", "/api/health"), ("HEAD", "/api/health"))


def create_app(
    engine: Engine,
    *,
    server: ServerConfig | None = None,
    watcher: Watcher | None = None,
    provider: str = "unknown",
    env: Mapping[str, str] | None = None,
    tokens: Tokens | None = None,
    access_log: bool = True,
    evaluator_dirs: Sequence[Path] = (),
    allowed_hosts: Sequence[str] = (),
) -> Starlette:
    """The API over ``engine``. Tokens come from ``server`` and ``env`` (default: the process
    environment) unless given. ``allowed_hosts`` adds to ``server.allowedHosts`` (the host names
    answered without an API key, beyond loopback)."""
    server = server or ServerConfig()
    tokens = tokens if tokens is not None else resolve_tokens(server, os.environ if env is None else env)
    clock = engine.ctx.clock
    throttle = KeyThrottle(now=lambda: clock.now().timestamp())  # wrong keys: one budget per address
    dashboard = Dashboard(engine, tokens, throttle)
    app = Starlette(
        routes=[*api_routes(), dashboard.mount],
        middleware=[
            Middleware(RequestContext, access_log=access_log),
            Middleware(BrowserGuard, loopback_only=not tokens.enabled,
                       allowed_hosts=[*server.allowed_hosts, *allowed_hosts], public=PUBLIC),
            Middleware(TokenAuth, tokens=tokens, public=PUBLIC, delegate=dashboard.owns, throttle=throttle),
            Middleware(BodyLimit, max_bytes=server.max_request_body,
                       read_timeout=server.read_timeout.total_seconds()),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.router = IndexedRouter(app.router.routes)  # the same table, fewer patterns tried per request
    app.state.dashboard = dashboard
    app.state.openapi_document = lambda: openapi_document(app)  # GET /api/openapi.json
    METRICS.collector("alerts", alert_queue_collector(engine.ctx.alerts))  # the queue's depth, read at export
    app.state.api = ApiState(engine=engine, provider=provider, watcher=watcher, auth_enabled=tokens.enabled,
                             evaluator_dirs=tuple(evaluator_dirs), started_at=engine.ctx.clock.now())
    return app
