"""The one place exceptions become HTTP answers: every error is ``{"error": "...", ...}`` JSON.

* :class:`~interlock_core.errors.InterlockError` (the core tree) answers with its own
  ``status_code`` and ``to_json()``; a store outage is a 503 with ``Retry-After``.
* Starlette's HTTP exceptions (unknown route 404, wrong method 405) keep their status.
* Anything else is a bug: the request-context middleware logs it with the request id and
  answers 500 without a traceback.
"""

from __future__ import annotations

from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from interlock_core.errors import ConfigError, ConfigErrors, InterlockError, NextStep, StoreUnavailable

from .responses import error_response, json_response

log = structlog.get_logger("interlock.http")

STORE_RETRY_AFTER = "5"


class RequestBodyTooLarge(InterlockError):
    status_code = 413


API_STEPS = {"cancel-run": "POST /api/runs/{target}/cancel",
             "force-rerun": 'POST /api/pipelines/{target}/rerun with "force": true'}
"""A core error's next step (:class:`~interlock_core.errors.NextStep`) as an API client takes it."""


def api_step(step: NextStep) -> str | None:
    route = API_STEPS.get(step.action)
    return route.format(target=step.target) if route else None


class RequestTimeout(InterlockError):
    status_code = 408


def error_body(exc: InterlockError) -> dict[str, Any]:
    body = {**exc.to_json(), "error": exc.described(api_step)}
    if isinstance(exc, ConfigError):
        problems = exc.errors if isinstance(exc, ConfigErrors) else [exc]
        body = {"error": exc.message, "errors": [{"field": e.key or "body", "message": e.reason} for e in problems]}
        if exc.key:
            body["field"] = exc.key
    return body


async def interlock_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InterlockError)
    headers: dict[str, str] = {}
    if isinstance(exc, StoreUnavailable):
        headers["Retry-After"] = STORE_RETRY_AFTER
        log.error("store unavailable", error=exc.message)
    elif exc.status_code >= 500:
        log.error("request failed", error=exc.message, error_type=type(exc).__name__)
    return json_response(error_body(exc), status_code=exc.status_code, headers=headers)


HTTP_MESSAGES = {404: "not found", 405: "method not allowed"}


def allowed_methods(request: Request) -> str:
    """Every method any route serves at this path (routes are one per method)."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return error_response(exc.status_code, message, headers=headers)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    InterlockError: interlock_error,
    HTTPException: http_error,
}
