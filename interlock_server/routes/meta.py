"""The server about itself: health (open to everyone), Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from interlock_core.metrics import METRICS
from interlock_core.model import format_timestamp

from .. import __version__
from ..metrics import PROMETHEUS_CONTENT_TYPE, render_prometheus
from ..responses import OwnJSONResponse, json_response
from ..schemas import HealthBody
from ..state import ApiState
from ._route import ApiRoute, Doc, Reply, api_state

TAG = "meta"
PING_TIMEOUT = 2.0


async def _store_reachable(state: ApiState) -> bool:
    with anyio.move_on_after(PING_TIMEOUT):
        try:
            return bool(await state.engine.store.ping())
        except Exception:
            return False
    return False


def watcher_health(state: ApiState) -> dict[str, Any]:
    watcher = state.watcher
    if watcher is None:
        return {"enabled": False, "alive": True}
    now = state.engine.ctx.clock.now()
    reference = watcher.last_pass_at or state.started_at
    alive = state.watcher_error is None and now - reference <= state.watcher_stale_after
    body: dict[str, Any] = {"enabled": True, "alive": alive, "passes": watcher.passes, "outage": watcher.outage}
    if watcher.last_pass_at is not None:
        body["lastPassAt"] = format_timestamp(watcher.last_pass_at)
    if state.watcher_error is not None:
        body["error"] = state.watcher_error
    return body


async def health(request: Request) -> Response:
    state = api_state(request)
    reachable = await _store_reachable(state)
    watcher = watcher_health(state)
    ok = reachable and watcher["alive"]
    uptime = (state.engine.ctx.clock.now() - state.started_at).total_seconds()
    body = {"status": "ok" if ok else "degraded", "version": __version__,
            "store": {"provider": state.provider, "reachable": reachable}, "watcher": watcher,
            "uptimeSeconds": round(max(uptime, 0.0), 3)}
    return json_response(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(render_prometheus(METRICS), media_type=PROMETHEUS_CONTENT_TYPE)


async def openapi(request: Request) -> Response:
    # The app hands the document over (``app.state.openapi_document``): the document is built from
    # this route table, so the routes never import its builder (no import circle).
    return OwnJSONResponse(request.app.state.openapi_document())


PROMETHEUS_TEXT = {"type": "string", "description": "Prometheus text exposition format 0.0.4."}

ROUTES = [
    ApiRoute("/api/health", health, method="GET", doc=Doc(
        "Health: store reachability and watcher liveness", TAG,
        {200: Reply("Healthy.", HealthBody), 503: Reply("Degraded: the store does not answer, or the watcher "
                                                        "has not finished a pass recently.", HealthBody)},
        public=True, uses_store=False)),
    ApiRoute("/metrics", metrics, method="GET", doc=Doc(
        "Prometheus metrics", TAG, {200: Reply("Counters and histograms.", PROMETHEUS_TEXT,
                                                        media_type="text/plain")},
        uses_store=False)),
    ApiRoute("/api/openapi.json", openapi, method="GET", doc=Doc(
        "This OpenAPI document", TAG, {200: Reply("OpenAPI 3.1.", {"type": "object"})}, uses_store=False)),
]
