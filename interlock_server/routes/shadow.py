"""Dry run's evidence: the scheduler in place reports its runs, and the shadow report compares them
with when Interlock would have triggered (computed in core, :mod:`interlock_core.engine.shadow_report`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.engine.shadow_report import DEFAULT_REPORT_DAYS, MAX_REPORT_CYCLES, MAX_REPORT_DAYS, ShadowReport
from interlock_core.model import ShadowCycle

from ..responses import json_response
from ..schemas import ErrorBody, SchedulerRunBody
from ._route import ApiRoute, Doc, Param, Reply, api_state, query_text, read_body
from .common import NOT_FOUND, RETIRED

TAG = "dry-run"
FROM = Param("from", f"First cycle date (YYYY-MM-DD), or a sub-daily schedule's first fire time (YYYY-MM-DDTHH:MM; "
                     f"default: {DEFAULT_REPORT_DAYS - 1} days before `to`).", {"type": "string"})
TO = Param("to", "Last cycle date (YYYY-MM-DD), or a sub-daily schedule's last fire time (YYYY-MM-DDTHH:MM; "
                 "default: today in the first schedule's time zone).", {"type": "string"})
SCHEDULE = Param("schedule", "Only this schedule's cycles (default: every schedule).", {"type": "string"})


async def shadow_report(request: Request) -> Response:
    report = await api_state(request).engine.shadow_report(
        request.path_params["id"], since=query_text(request, "from"), until=query_text(request, "to"),
        schedule_id=query_text(request, "schedule"))
    return json_response(report)


async def report_scheduler_run(request: Request) -> Response:
    engine = api_state(request).engine
    pipeline = await engine.get_pipeline(request.path_params["id"])  # 404 before body errors
    body = await read_body(request, SchedulerRunBody)
    record = await engine.report_scheduler_run(pipeline.name, body.date, body.run(), schedule_id=body.schedule_id)
    return json_response(record)


ROUTES = [
    ApiRoute("/api/pipelines/{id}/shadow-report", shadow_report, method="GET", doc=Doc(
        "The shadow report of a dry-run pipeline", TAG,
        {200: Reply("For each cycle (date × schedule; each fire time of a sub-daily schedule) of the range: when "
                    "Interlock would have triggered "
                    "(`wouldTriggerAt`), the scheduler's run (`scheduler`), the `verdict` (earlier, same, later, "
                    "held, not_run, not_ready, not_evaluated, no_data), `leadSeconds` (positive: Interlock "
                    "earlier), a sentence (`difference`) and the SLA projection (`sla`); and a `summary`.",
                    ShadowReport),
         400: Reply(f"`from` or `to` is not a date, `from` is after `to`, the range is longer than "
                    f"{MAX_REPORT_DAYS} days (or {MAX_REPORT_CYCLES} cycles of a sub-daily schedule), or an "
                    f"unknown `schedule`.", ErrorBody),
         404: NOT_FOUND},
        query=(FROM, TO, SCHEDULE),
        description="Only reads the store. The scheduler's runs come from the trigger's lookup (Airflow; "
                    "`lookup: true`), made by the watcher for today's and yesterday's cycles, or from "
                    "`POST /api/pipelines/{id}/scheduler-runs`.")),
    ApiRoute("/api/pipelines/{id}/scheduler-runs", report_scheduler_run, method="POST", doc=Doc(
        "Report a run by the scheduler in place (dry run)", TAG,
        {200: Reply("The cycle's shadow record. A run seen ending records `DRY_RUN_COMPLETED` (and "
                    "`DRY_RUN_WOULD_RETRY` when a failure would have been retried); pushing it again changes "
                    "nothing.", ShadowCycle),
         400: Reply("Invalid body (the field is named), or `finishedAt` before `startedAt`.", ErrorBody),
         404: Reply("Unknown pipeline or schedule.", ErrorBody),
         409: Reply("The pipeline is not a dry-run pipeline, or it is retired.", RETIRED.schema)},
        body=SchedulerRunBody,
        description="For a dry-run pipeline whose trigger cannot look its scheduler's runs up (or to backfill): "
                    "the scheduler ran cycle X at T with outcome Y.")),
]
