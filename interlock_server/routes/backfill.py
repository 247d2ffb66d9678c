"""Backfill over the API: every cycle of a date range started through the run lifecycle (computed
in core, :mod:`interlock_core.engine.backfill`). The request returns once each cycle is launched
and recorded (or refused); the runs go on, followed by the watcher and the orchestrators' callbacks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.engine import BackfillReport
from interlock_core.engine.backfill_plan import MAX_BACKFILL_CYCLES
from interlock_core.errors import ValidationError

from ..responses import json_response
from ..schemas import BackfillBody, ErrorBody
from ._route import ApiRoute, Doc, Reply, api_state, read_body
from .common import NOT_FOUND, RETIRED

TAG = "runs"


async def backfill(request: Request) -> Response:
    engine = api_state(request).engine
    pipeline = await engine.get_pipeline(request.path_params["id"])  # 404 before body errors
    body = await read_body(request, BackfillBody)
    try:
        report = await engine.backfill(pipeline.name, since=body.since, until=body.until,
                                       schedule_id=body.schedule_id, force=body.force,
                                       concurrency=body.concurrency, wait=False)
    except ValidationError as exc:  # named as the body names it
        if exc.field != "schedule":
            raise
        raise ValidationError(exc.message.replace("schedule:", "scheduleId:", 1), field="scheduleId") from None
    return json_response(report.to_json_dict())


ROUTES = [
    ApiRoute("/api/pipelines/{id}/backfill", backfill, method="POST", doc=Doc(
        "Backfill a date range: one cycle per date, gated like any run", TAG,
        {200: Reply("What happened to each cycle (`cycles[].result`: completed, failed, running, "
                    "already_completed, already_running, not_ready, excluded, refused, error, dry_run), the "
                    "`counts` per result, and `ok` (false when a cycle failed, was not ready, was refused or "
                    "met an error).",
                    BackfillReport),
         400: Reply(f"Invalid body (the field is named: `from`, `to`, `concurrency`, `scheduleId`): not a date, "
                    f"`from` after `to`, more than {MAX_BACKFILL_CYCLES} cycles, or an unknown schedule.",
                    ErrorBody),
         404: NOT_FOUND,
         409: RETIRED},
        body=BackfillBody,
        description="Each cycle goes through the run log gate (a completed cycle or one under way is reported, "
                    "never run twice: repeating the request launches nothing new), then its readiness gate "
                    "(`force: true` skips it), at most `concurrency` at once. The request returns once every "
                    "cycle is launched and recorded; the runs carry on (the watcher polls them, callbacks "
                    "complete them). Days the pipeline's calendar excludes are reported `excluded`.")),
]
