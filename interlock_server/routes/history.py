"""History: run logs (the per-cycle ledger) and the pipeline's event log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.dates import check_run_date
from interlock_core.errors import NotFoundError
from interlock_core.model import Event, RunLogEntry

from ..responses import json_response
from ._route import ApiRoute, Doc, Param, Reply, api_state, limit_param, query_text, read_limit
from .common import NOT_FOUND

TAG = "history"
RUNLOGS_LIMIT = limit_param(20, 200)
EVENTS_LIMIT = limit_param(50, 500)
SCHEDULE = Param("schedule", "Schedule name (default: the pipeline's first schedule, usually `daily`).",
                 {"type": "string"})


async def list_run_logs(request: Request) -> Response:
    engine = api_state(request).engine
    limit = read_limit(request, RUNLOGS_LIMIT)
    pipeline = await engine.get_pipeline(request.path_params["id"])
    return json_response(await engine.store.list_run_logs(pipeline.name, limit))


async def get_run_log(request: Request) -> Response:
    engine = api_state(request).engine
    day = check_run_date(request.path_params["date"])
    pipeline = await engine.get_pipeline(request.path_params["id"])
    schedule = query_text(request, "schedule") or pipeline.resolved_schedules()[0].name
    entry = await engine.store.get_run_log(pipeline.name, day, schedule)
    if entry is None:
        raise NotFoundError("run log not found", pipelineId=pipeline.name, date=day, scheduleId=schedule)
    return json_response(entry)


async def list_events(request: Request) -> Response:
    engine = api_state(request).engine
    limit = read_limit(request, EVENTS_LIMIT)
    pipeline = await engine.get_pipeline(request.path_params["id"])
    return json_response(await engine.store.list_events(pipeline.name, limit))


ROUTES = [
    ApiRoute("/api/pipelines/{id}/runlogs", list_run_logs, method="GET", doc=Doc(
        "Run log entries of a pipeline", TAG,
        {200: Reply("Newest first by date ([] when none).", list[RunLogEntry]), 404: NOT_FOUND},
        query=(RUNLOGS_LIMIT,))),
    ApiRoute("/api/pipelines/{id}/runlogs/{date}", get_run_log, method="GET", doc=Doc(
        "The run log entry of one cycle", TAG,
        {200: Reply("The entry: status, attempts, retry history.", RunLogEntry),
         400: Reply("`date` is not a cycle (YYYY-MM-DD or YYYY-MM-DDTHH:MM)."), 404: NOT_FOUND},
        query=(SCHEDULE,))),
    ApiRoute("/api/pipelines/{id}/events", list_events, method="GET", doc=Doc(
        "Events of a pipeline", TAG,
        {200: Reply("The most recent `limit` events, oldest first ([] when none).", list[Event]),
         404: NOT_FOUND},
        query=(EVENTS_LIMIT,))),
]
