"""Reruns: run a completed date again through the same lifecycle, list them, complete or cancel them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.engine import Outcome
from interlock_core.errors import NotFoundError
from interlock_core.model import RerunRecord

from ..responses import json_response
from ..schemas import CancelBody, CompleteBody, ErrorBody, RerunAccepted, RerunBody, RerunRefused
from ._route import ApiRoute, Doc, Reply, api_state, limit_param, read_body, read_limit
from .common import NOT_FOUND
from .outcomes import STATUS, retry_after

TAG = "reruns"
PIPELINE_RERUNS_LIMIT = limit_param(20, 200)
ALL_RERUNS_LIMIT = limit_param(50, 500)


async def request_rerun(request: Request) -> Response:
    engine = api_state(request).engine
    pipeline = await engine.get_pipeline(request.path_params["id"])  # 404 before body errors
    body = await read_body(request, RerunBody)
    record, outcome = await engine.request_rerun(pipeline.name, body.original_date, body.reason,
                                                 schedule_id=body.schedule_id, description=body.description,
                                                 metadata=body.metadata, force=body.force)
    if outcome is None:
        return json_response({"rerun": record}, status_code=202)
    reply: dict[str, Any] = {"rerun": record.to_json_dict(), "outcome": outcome.to_json()}
    if outcome.outcome is Outcome.TRIGGERED:
        return json_response(reply, status_code=202)
    refusal: dict[str, Any] = {"error": outcome.message, **reply}
    if outcome.outcome is Outcome.NOT_READY:
        refusal.update(status="NOT_READY", blocking=outcome.readiness.blocking if outcome.readiness else [])
    return json_response(refusal, status_code=STATUS[outcome.outcome],
                         headers=retry_after(outcome, engine.ctx.clock.now()))


async def list_pipeline_reruns(request: Request) -> Response:
    engine = api_state(request).engine
    limit = read_limit(request, PIPELINE_RERUNS_LIMIT)
    pipeline = await engine.get_pipeline(request.path_params["id"])
    return json_response(await engine.store.list_reruns(pipeline.name, limit))


async def list_reruns(request: Request) -> Response:
    engine = api_state(request).engine
    return json_response(await engine.store.list_reruns(None, read_limit(request, ALL_RERUNS_LIMIT)))


async def get_rerun(request: Request) -> Response:
    rerun_id = request.path_params["rerunId"]
    record = await api_state(request).engine.store.get_rerun(rerun_id)
    if record is None:
        raise NotFoundError(f"rerun {rerun_id!r} not found", rerunId=rerun_id)
    return json_response(record)


async def complete_rerun(request: Request) -> Response:
    body = await read_body(request, CompleteBody)
    record = await api_state(request).engine.complete_rerun(request.path_params["rerunId"], body.status,
                                                            body.metadata)
    return json_response(record)


async def cancel_rerun(request: Request) -> Response:
    body = await read_body(request, CancelBody, required=False)
    record = await api_state(request).engine.cancel_rerun(request.path_params["rerunId"], body.reason)
    return json_response(record)


ROUTES = [
    ApiRoute("/api/pipelines/{id}/rerun", request_rerun, method="POST", doc=Doc(
        "Rerun a completed date", TAG,
        {202: Reply("The rerun was recorded and its run launched: the rerun record and the outcome.",
                    RerunAccepted),
         404: NOT_FOUND,
         409: Reply("Nothing recorded: a run of that cycle is still active (`activeRunId` names it), "
                    "another rerun of it is unfinished (`rerunId`, `rerunStatus`: one rerun of a cycle at a "
                    "time), the pipeline is retired (`retired: true`: its file was deleted), or the rerun was "
                    "rejected (`rejected: true`, RERUN_REJECTED): `reason` `budget exhausted` names the spent "
                    "`budget` with `used` and `limit`, `no new data` says the cycle's inputs (`fingerprint`) "
                    "are those its last run (`replacedRunId`) was launched with — send `force: true` to run "
                    "it anyway.", RerunRefused),
         412: Reply("Not ready now: the rerun stays PENDING and the watcher starts it once ready.",
                    RerunRefused),
         422: Reply("The pipeline has no trigger.", RerunRefused)},
        body=RerunBody,
        description="Bypasses the once-per-cycle dedup; readiness still applies. A date that never ran is "
                    "accepted (its first run), and the rerun's `warning` says so. Counted under "
                    "`retry.maxManualReruns`; a cycle whose last run completed with the same inputs is "
                    "refused as `no new data` unless `force` is true.")),
    ApiRoute("/api/pipelines/{id}/reruns", list_pipeline_reruns, method="GET", doc=Doc(
        "Reruns of a pipeline", TAG,
        {200: Reply("Newest first ([] when none).", list[RerunRecord]), 404: NOT_FOUND},
        query=(PIPELINE_RERUNS_LIMIT,))),
    ApiRoute("/api/reruns", list_reruns, method="GET", doc=Doc(
        "Reruns of every pipeline", TAG, {200: Reply("Newest first ([] when none).", list[RerunRecord])},
        query=(ALL_RERUNS_LIMIT,))),
    ApiRoute("/api/reruns/{rerunId}", get_rerun, method="GET", doc=Doc(
        "Get a rerun", TAG, {200: Reply("The rerun record.", RerunRecord), 404: NOT_FOUND})),
    ApiRoute("/api/reruns/{rerunId}/complete", complete_rerun, method="POST", doc=Doc(
        "Complete a rerun", TAG,
        {200: Reply("The rerun record; its active run (if any) is completed the same way. Idempotent.",
                    RerunRecord),
         400: Reply("`status` is not success/failed."), 404: NOT_FOUND,
         409: Reply("The rerun already ended in another state.", ErrorBody)},
        body=CompleteBody)),
    ApiRoute("/api/reruns/{rerunId}/cancel", cancel_rerun, method="POST", doc=Doc(
        "Cancel a pending rerun", TAG,
        {200: Reply("The CANCELLED rerun record (idempotent).", RerunRecord), 404: NOT_FOUND,
         409: Reply("The rerun is not PENDING: its run started (cancel that run) or it already ended.",
                    ErrorBody)},
        body=CancelBody, body_required=False)),
]
