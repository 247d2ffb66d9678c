"""Readiness: evaluate now, read the stored verdict and the pipeline's state, read and push trait results."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from interlock_core.errors import NotFoundError
from interlock_core.model import ReadinessResult, TraitEvaluation
from interlock_core.pipeline_state import PipelineStateView

from ..responses import JSON_MEDIA_TYPE, json_response
from ..schemas import CycleBody, PushTraitBody, ReadinessAnswer
from ._route import ApiRoute, Doc, Reply, api_state, read_body
from .common import NOT_FOUND, RETIRED

TAG = "readiness"


async def evaluate(request: Request) -> Response:
    body = await read_body(request, CycleBody, required=False)
    result = await api_state(request).engine.evaluate(request.path_params["id"], schedule_id=body.schedule_id,
                                                      date=body.date)
    return json_response(result)


async def readiness(request: Request) -> Response:
    api = api_state(request)
    with api.engine.shared_answers():  # rendered at once, never changed: the engine's kept answer will do
        result = await api.engine.check_readiness(request.path_params["id"])
        state = await api.engine.pipeline_state_word(result.pipeline_id, readiness=result)
    # ReadinessAnswer's JSON (the result's, then ``state``), without validating the result again
    return Response(api.readiness_bodies.render(result, state), media_type=JSON_MEDIA_TYPE)


async def state(request: Request) -> Response:
    view = await api_state(request).engine.pipeline_state(request.path_params["id"])
    return json_response(view)


async def list_traits(request: Request) -> Response:
    engine = api_state(request).engine
    pipeline = await engine.get_pipeline(request.path_params["id"])
    return json_response(await engine.store.list_traits(pipeline.name))


async def get_trait(request: Request) -> Response:
    engine = api_state(request).engine
    pipeline = await engine.get_pipeline(request.path_params["id"])
    trait_type = request.path_params["type"]
    evaluation = await engine.store.get_trait(pipeline.name, trait_type)
    if evaluation is None:
        raise NotFoundError("trait not found or expired", pipelineId=pipeline.name, traitType=trait_type)
    return json_response(evaluation)


async def push_trait(request: Request) -> Response:
    engine = api_state(request).engine
    pipeline = await engine.get_pipeline(request.path_params["id"])  # 404 before body errors
    body = await read_body(request, PushTraitBody)
    evaluation = await engine.push_trait(pipeline.name, request.path_params["type"], body.status,
                                         value=body.value, reason=body.reason, ttl=body.ttl,
                                         failure_category=body.failure_category)
    return json_response(evaluation, status_code=201)


ROUTES = [
    ApiRoute("/api/pipelines/{id}/evaluate", evaluate, method="POST", doc=Doc(
        "Evaluate readiness now", TAG,
        {200: Reply("Runs every trait's evaluator (pushed traits use their latest result) and applies the "
                    "readiness rule.", ReadinessResult), 404: NOT_FOUND, 409: RETIRED},
        body=CycleBody, body_required=False)),
    ApiRoute("/api/pipelines/{id}/readiness", readiness, method="GET", doc=Doc(
        "Readiness from stored trait results", TAG,
        {200: Reply("The readiness rule over the stored results; a missing or expired result is STALE. "
                    "No evaluator runs. `state` is the pipeline's state for its current cycle.", ReadinessAnswer),
         404: NOT_FOUND})),
    ApiRoute("/api/pipelines/{id}/state", state, method="GET", doc=Doc(
        "The pipeline's state for its current cycle", TAG,
        {200: Reply("One word for what the current cycle is doing (COMPLETED, RUNNING, RETRYING, FAILED, "
                    "CANCELLED, SKIPPED, READY, NOT_READY, STALE, WAITING, EXCLUDED, RETIRED, ERROR), why, the "
                    "blockers while readiness decides what happens next, every schedule's cycle, and the "
                    "last run (the current cycle's; `lastRunCurrent: false` when it is another date's).",
                    PipelineStateView), 404: NOT_FOUND},
        description="The same state `interlock status` and the dashboard show. A cycle that has completed "
                    "reads COMPLETED whatever its trait results say since: expired results block nothing "
                    "until the next cycle.")),
    ApiRoute("/api/pipelines/{id}/traits", list_traits, method="GET", doc=Doc(
        "All stored trait results", TAG,
        {200: Reply("Unexpired results, by trait type ([] when none).", list[TraitEvaluation]),
         404: NOT_FOUND})),
    ApiRoute("/api/pipelines/{id}/traits/{type}", get_trait, method="GET", doc=Doc(
        "One stored trait result", TAG,
        {200: Reply("The latest unexpired result.", TraitEvaluation),
         404: Reply("Unknown pipeline, or no unexpired result for this trait.", NOT_FOUND.schema)})),
    ApiRoute("/api/pipelines/{id}/traits/{type}", push_trait, method="POST", doc=Doc(
        "Push an external trait result", TAG,
        {201: Reply("The stored result. The pipeline's evaluation wakes at once.", TraitEvaluation),
         400: Reply("Invalid body, or a trait type the pipeline's archetype does not define."),
         404: NOT_FOUND, 409: RETIRED},
        body=PushTraitBody)),
]
