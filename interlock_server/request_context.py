"""Per-request context: request id, log context, one access log line, the latency histogram,
``X-Content-Type-Options: nosniff`` on every answer (API, pages, static files, errors), and the
last-resort 500 for an exception nothing else handled. A client that goes away before it has sent
its whole body is no error: one info line, status 499 in the access log and the metrics.

The request id is the incoming ``X-Request-ID`` when it looks like one (printable, at most 128
characters), otherwise 16 fresh hex characters; it is echoed in the ``X-Request-ID`` response
header and bound (with ``pipeline`` / ``run_id`` bound by the routes) to every log line of the
request. Latency is recorded by route template (``/api/runs/{runId}``), never by raw path.

When tracing is on (:mod:`interlock_server.telemetry`), every request is a server span named
``METHOD /route/template``, child of the trace the client sent in ``traceparent`` (an
orchestrator's completion callback continues the trace of the launch that started its job); the
spans the control path opens while answering are its children.
"""

from __future__ import annotations

import functools
import os
import random
import re
import time
from collections.abc import Iterable

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interlock_core import tracing
from interlock_core.metrics import METRICS, LabelKey, Metrics

from .logging import log_access
from .metrics import HTTP_LATENCY
from .responses import error_response

log = structlog.get_logger("interlock.http")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
UNMATCHED = "<unmatched>"
CLIENT_CLOSED = 499
"""The status logged and counted for a request whose client went away mid-body (nginx's number)."""
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD = "OTHER"


def method_label(method: str) -> str:
    """The method as a metrics label: any other token a client invents is ``OTHER`` (labels must
    stay few: an unauthenticated client must not be able to grow the series without bound)."""
    return method if method in STANDARD_METHODS else OTHER_METHOD


@functools.lru_cache(maxsize=1024)
def latency_series(method: str, route: str, status: int) -> LabelKey:
    """The latency histogram's series of a request (few: methods, route templates, statuses)."""
    return Metrics.series_key(method=method_label(method), route=route, status=str(status))


_IDS = random.Random(os.urandom(32))
"""Where fresh request ids come from: seeded by the system once per process (again in a forked
child), then no system call per request. An id names a request in the logs; it guards nothing."""
if hasattr(os, "register_at_fork"):  # a forked worker must not repeat its parent's ids
    os.register_at_fork(after_in_child=lambda: _IDS.seed(os.urandom(32)))


def new_request_id() -> str:
    """16 fresh hex characters."""
    return f"{_IDS.getrandbits(64):016x}"


def request_id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1").strip()
            if _VALID_REQUEST_ID.match(text):
                return text
            break
    return new_request_id()


_REQUEST_ID = REQUEST_ID_HEADER.lower().encode("latin-1")
_NOSNIFF = (b"x-content-type-options", b"nosniff")


def with_context_headers(headers: Iterable[tuple[bytes, bytes]], request_id: str) -> list[tuple[bytes, bytes]]:
    """An answer's raw headers (a new list) with the request id, and ``nosniff`` unless the answer
    says otherwise (as ``MutableHeaders.append`` would add them)."""
    raw = list(headers)
    raw.append((_REQUEST_ID, request_id.encode("latin-1")))
    for name, _ in raw:
        if name == _NOSNIFF[0]:
            return raw
    raw.append(_NOSNIFF)
    return raw


def route_template(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return str(path) if isinstance(path, str) else UNMATCHED


class RequestContext:
    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not tracing.enabled():
            await self._answer(scope, receive, send, tracing.NO_SPAN)
            return
        headers = {bytes(k).decode("latin-1"): bytes(v).decode("latin-1") for k, v in scope["headers"]
                   if k in _TRACE_HEADERS}
        method = method_label(scope["method"])
        with tracing.extract(headers), tracing.span(method, "server", **{"http.request.method": method}) as span:
            await self._answer(scope, receive, send, span)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, span: tracing.Span) -> None:
        request_id = request_id_from(scope)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = with_context_headers(message["headers"], request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            status = CLIENT_CLOSED  # nobody is left to answer
            log.info("client disconnected before sending the whole request body", method=scope["method"],
                     path=scope["path"])
        except Exception:
            log.exception("unhandled error", method=scope["method"], path=scope["path"])
            if response_started:
                raise  # too late for an error body: the server aborts the connection
            await error_response(500, "internal server error", requestId=request_id)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            if span.recording:
                span.rename(f"{method_label(scope['method'])} {route}")
                span.set(**{"http.route": route, "http.response.status_code": status,
                            "interlock.request_id": request_id})
                if status >= 500:
                    span.error(f"HTTP {status}")
            METRICS.observe_series(HTTP_LATENCY, elapsed, latency_series(scope["method"], route, status))
            if self.access_log:
                log_access("error" if status >= 500 else "info", method=scope["method"], path=scope["path"],
                           route=route, status=status, duration_ms=round(elapsed * 1000, 3), client=_client(scope))
            structlog.contextvars.clear_contextvars()


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None
