"""Runs: start one (evaluate + trigger), read them, and the orchestrator's completion callback."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.errors import NotFoundError
from interlock_core.model import RunState

from ..responses import json_response
from ..schemas import CancelBody, CompleteBody, CycleBody, ErrorBody, OutcomeBody, OutcomeError
from ._route import ApiRoute, Doc, Reply, api_state, limit_param, read_body, read_limit
from .common import NOT_FOUND
from .outcomes import outcome_response

TAG = "runs"
RUNS_LIMIT = limit_param(20, 200)


async def start_run(request: Request) -> Response:
    body = await read_body(request, CycleBody, required=False)
    engine = api_state(request).engine
    outcome = await engine.start_run(request.path_params["id"], body.schedule_id, body.date)
    return outcome_response(outcome, engine.ctx.clock.now())


async def list_runs(request: Request) -> Response:
    engine = api_state(request).engine
    limit = read_limit(request, RUNS_LIMIT)
    pipeline = await engine.get_pipeline(request.path_params["id"])
    return json_response(await engine.store.list_runs(pipeline.name, limit))


async def _run(request: Request) -> RunState:
    run_id = request.path_params["runId"]
    run: RunState | None = await api_state(request).engine.store.get_run(run_id)
    if run is None:
        raise NotFoundError(f"run {run_id!r} not found", runId=run_id)
    return run


async def get_run(request: Request) -> Response:
    return json_response(await _run(request))


async def get_pipeline_run(request: Request) -> Response:
    run = await _run(request)
    if run.pipeline_id != request.path_params["id"]:
        raise NotFoundError(f"run {run.run_id!r} not found for pipeline {request.path_params['id']!r}",
                            runId=run.run_id)
    return json_response(run)


async def complete_run(request: Request) -> Response:
    body = await read_body(request, CompleteBody)
    run = await api_state(request).engine.complete_run(request.path_params["runId"], body.status, body.metadata)
    return json_response(run)


async def cancel_run(request: Request) -> Response:
    body = await read_body(request, CancelBody, required=False)
    run = await api_state(request).engine.cancel_run(request.path_params["runId"], body.reason)
    return json_response(run)


CONFLICT = Reply("The cycle cannot start a new attempt now: duplicate (already completed), in_progress, "
                 "claim_lost, exhausted, non_retryable or skipped (the body is the outcome); or the pipeline is "
                 "retired, its file deleted (`retired: true`, `retiredAt`).", OutcomeError)
RUN_CONFLICT = Reply("The run already ended in another state.", ErrorBody)

ROUTES = [
    ApiRoute("/api/pipelines/{id}/run", start_run, method="POST", doc=Doc(
        "Evaluate and, when ready, trigger the pipeline", TAG,
        {202: Reply("Launched: the run (a launch that failed is a FAILED run with its reason).", RunState),
         200: Reply("Dry run (`dryRun: true`): ready, it would have triggered (`outcome: dry_run`, "
                    "`wouldTriggerAt`); nothing was launched or claimed.", OutcomeBody),
         404: NOT_FOUND,
         409: CONFLICT,
         412: Reply("Not ready: `status: NOT_READY` and the `blocking` traits.", OutcomeError),
         422: Reply("The pipeline has no trigger.", OutcomeError),
         429: Reply("The last attempt failed and its backoff has not elapsed; retry at `retryAt`.",
                    OutcomeError, headers={"Retry-After": "Seconds until the next attempt may start."})},
        body=CycleBody, body_required=False,
        description="One cycle (pipeline, schedule, date) runs at most once: the run log gate refuses a "
                    "completed cycle, an active run, an attempt in backoff or a spent retry budget.")),
    ApiRoute("/api/pipelines/{id}/runs", list_runs, method="GET", doc=Doc(
        "Recent runs of a pipeline", TAG,
        {200: Reply("Newest first ([] when none).", list[RunState]), 404: NOT_FOUND}, query=(RUNS_LIMIT,))),
    ApiRoute("/api/pipelines/{id}/runs/{runId}", get_pipeline_run, method="GET", doc=Doc(
        "One run of a pipeline", TAG, {200: Reply("The run.", RunState), 404: NOT_FOUND})),
    ApiRoute("/api/runs/{runId}", get_run, method="GET", doc=Doc(
        "Get a run", TAG, {200: Reply("The run.", RunState), 404: NOT_FOUND})),
    ApiRoute("/api/runs/{runId}/complete", complete_run, method="POST", doc=Doc(
        "Completion callback from the orchestrator", TAG,
        {200: Reply("The run after the callback. Idempotent: repeating the callback changes nothing.",
                    RunState),
         400: Reply("`status` is not success/failed."), 404: NOT_FOUND, 409: RUN_CONFLICT},
        body=CompleteBody,
        description="`metadata` is merged into the run's metadata. `failed` may carry "
                    "`metadata.failureCategory` (TRANSIENT, PERMANENT, TIMEOUT) for the retry policy.")),
    ApiRoute("/api/runs/{runId}/cancel", cancel_run, method="POST", doc=Doc(
        "Cancel a run", TAG,
        {200: Reply("The cancelled run (idempotent).", RunState), 404: NOT_FOUND, 409: RUN_CONFLICT},
        body=CancelBody, body_required=False)),
]
