"""Pipelines: list, register, read, delete. Secrets in trigger/evaluator configs are masked."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.model import PipelineConfig, PipelineOrigin

from ..redaction import redact
from ..responses import json_response, no_content
from ._route import ApiRoute, Doc, Reply, api_state, read_body
from .common import NOT_FOUND

TAG = "pipelines"


def masked(pipeline: PipelineConfig) -> dict[str, object]:
    result: dict[str, object] = redact(pipeline.to_json_dict())
    return result


async def list_pipelines(request: Request) -> Response:
    pipelines = await api_state(request).engine.list_pipelines()
    return json_response([masked(p) for p in pipelines])


async def register_pipeline(request: Request) -> Response:
    pipeline = await read_body(request, PipelineConfig)
    state = api_state(request)
    # what an API pipeline may hold (no executable outside evaluatorDirs, no server environment
    # beyond api.allowedEnv) is the engine's to enforce
    stored = await state.engine.register_pipeline(pipeline, origin=PipelineOrigin.API)
    # every watcher (other replicas too) picks the new configuration up now, not at its next list refresh
    await state.engine.ctx.wake(stored.name, "pipeline-registered")
    return json_response(masked(stored), status_code=201)


async def get_pipeline(request: Request) -> Response:
    pipeline = await api_state(request).engine.get_pipeline(request.path_params["id"])
    return json_response(masked(pipeline))


async def delete_pipeline(request: Request) -> Response:
    # 404 when unknown; 409 for a pipeline file's pipeline or one with a run under way; wakes the watchers
    await api_state(request).engine.remove_pipeline(request.path_params["id"])
    return no_content()


ROUTES = [
    ApiRoute("/api/pipelines", list_pipelines, method="GET", doc=Doc(
        "List all pipelines", TAG, {200: Reply("Every registered pipeline, by name ([] when none); a retired one "
                                               "(its file was deleted) carries `retiredAt`.",
                                               list[PipelineConfig])})),
    ApiRoute("/api/pipelines", register_pipeline, method="POST", doc=Doc(
        "Register (or replace) a pipeline", TAG,
        {201: Reply("The stored pipeline (secrets masked).", PipelineConfig),
         400: Reply("Invalid body: bad name, unknown archetype, unknown trait, command trigger, an evaluator "
                    "outside evaluatorDirs, a ${VAR} that is neither a run variable nor in api.allowedEnv …")},
        body=PipelineConfig,
        description="Names must match `[a-z0-9][a-z0-9._-]{0,253}[a-z0-9]`. `command` triggers cannot be "
                    "registered over the API, nor evaluators outside the project's evaluatorDirs (an "
                    "evaluator is a name there, a `builtin:` evaluator or an http(s) URL); put those in a "
                    "pipeline file. A trigger may name run variables (`${date}`, `${runKey}` …) and only the "
                    "environment variables the project lists in `api.allowedEnv`.")),
    ApiRoute("/api/pipelines/{id}", get_pipeline, method="GET", doc=Doc(
        "Get a pipeline's configuration", TAG,
        {200: Reply("The pipeline (secrets masked); `origin` says who wrote it (`file` or `api`), `retiredAt` "
                    "that its file was deleted and since when.", PipelineConfig),
         404: NOT_FOUND})),
    ApiRoute("/api/pipelines/{id}", delete_pipeline, method="DELETE", doc=Doc(
        "Remove a pipeline registered over the API", TAG,
        {204: Reply("Removed (its runs, run logs, reruns and events stay readable)."), 404: NOT_FOUND,
         409: Reply("Refused: the pipeline is defined in a pipeline file (delete the file to retire it), or a "
                    "run of it is under way (`activeRunId`: wait for it to end, or cancel it).")},
        description="Pipeline files are the source of truth for the pipelines they define: deleting the file "
                    "retires its pipeline (never evaluated, triggered or alerted again, its history kept; "
                    "`retiredAt` says since when), restoring the file brings it back. A retired pipeline can be "
                    "removed here.")),
]
