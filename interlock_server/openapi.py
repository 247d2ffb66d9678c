"""The OpenAPI 3.1 document, built from the route table (each :class:`ApiRoute` carries its
:class:`Doc`) and the pydantic models (``model_json_schema`` by alias). Nothing is written twice:
a route without documentation cannot exist, and a documented path always has a route."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any

import pydantic
from pydantic.json_schema import models_json_schema
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from interlock_core.model import PIPELINE_NAME

from . import __version__
from .routes import ApiRoute
from .routes._route import Doc, Param, Reply
from .routes.common import PATH_PARAMS
from .schemas import ErrorBody

REF = "#/components/schemas/{model}"
Mode = typing.Literal["validation", "serialization"]

DESCRIPTION = """Interlock is a readiness gate for data pipelines: it evaluates a pipeline's traits, and only
when the readiness rule passes does it trigger the job, once per cycle. Errors are JSON
`{"error": "...", ...}`; a request body error names the offending `field`."""

DURATION = {"anyOf": [{"type": "string", "description": "A duration like 30s, 5m, 1h30m."},
                      {"type": "number", "description": "Seconds."}]}


def openapi_document(app: Starlette) -> dict[str, Any]:
    """The app's document, built once and cached on the app."""
    cached: dict[str, Any] | None = getattr(app.state, "openapi", None)
    if cached is None:
        cached = build_openapi(app.routes, auth=app.state.api.auth_enabled)
        app.state.openapi = cached
    return cached


def _models(schema: Any) -> Iterable[type[pydantic.BaseModel]]:
    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        yield schema
    elif typing.get_origin(schema) is list:
        yield from _models(typing.get_args(schema)[0])


def _reply_schema(reply: Reply, status: int, refs: dict[tuple[Any, Mode], Any]) -> dict[str, Any] | None:
    schema = reply.schema if reply.schema is not None or status < 400 else ErrorBody
    if schema is None:
        return None
    if isinstance(schema, dict):
        return dict(schema)
    if typing.get_origin(schema) is list:
        return {"type": "array", "items": refs[(typing.get_args(schema)[0], "serialization")]}
    return dict(refs[(schema, "serialization")])


def _standard_replies(doc: Doc, method: str, auth: bool) -> dict[int, Reply]:
    replies: dict[int, Reply] = {}
    if doc.body is not None or doc.query:
        replies[400] = Reply("Invalid request; `field` names what is wrong.")
    if auth and not doc.public:
        replies[401] = Reply("Missing or invalid API key (`X-API-Key` or `Authorization: Bearer`).")
        replies[429] = Reply("Too many wrong API keys from this client address; retry after `Retry-After` "
                             "seconds.", headers={"Retry-After": "Seconds to wait before retrying."})
    if not auth and not doc.public:
        replies[421] = Reply("No API key is set and the `Host` is not a loopback name (nor in "
                             "`server.allowedHosts`).")
    if method not in ("GET", "HEAD"):
        replies[403] = Reply("A cross-site request (`Origin`, `Sec-Fetch-Site`)"
                             + (", or an API key that may only read." if auth and not doc.public else "."))
        replies[415] = Reply("A request body that is not `application/json`.")
    if doc.body is not None:
        replies[413] = Reply("Request body larger than `server.maxRequestBody`.")
        replies[408] = Reply("The request body did not arrive within `server.readTimeout`.")
    if doc.uses_store:
        replies[503] = Reply("The store is unavailable; retry after `Retry-After` seconds.",
                             headers={"Retry-After": "Seconds to wait before retrying."})
    return replies


def _param(param: Param, where: str) -> dict[str, Any]:
    return {"name": param.name, "in": where, "required": param.required or where == "path",
            "description": param.description, "schema": dict(param.schema)}


def _operation(route: ApiRoute, refs: dict[tuple[Any, Mode], Any], auth: bool) -> dict[str, Any]:
    doc = route.doc
    op: dict[str, Any] = {"operationId": route.name, "summary": doc.summary, "tags": [doc.tag]}
    if doc.description:
        op["description"] = doc.description
    params = [_param(PATH_PARAMS.get(name) or Param(name, name, {"type": "string"}), "path")
              for name in route.param_convertors]
    params += [_param(p, "query") for p in doc.query]
    if params:
        op["parameters"] = params
    if doc.body is not None:
        op["requestBody"] = {"required": doc.body_required,
                             "content": {"application/json": {"schema": refs[(doc.body, "validation")]}}}
    responses: dict[str, Any] = {}
    for status, reply in sorted({**_standard_replies(doc, route.method, auth), **doc.responses}.items()):
        entry: dict[str, Any] = {"description": reply.description}
        schema = _reply_schema(reply, status, refs)
        if schema is not None:
            entry["content"] = {reply.media_type: {"schema": schema}}
        if reply.headers:
            entry["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                for name, text in reply.headers.items()}
        responses[str(status)] = entry
    op["responses"] = responses
    if doc.public and auth:
        op["security"] = []
    return op


def _fix_schemas(defs: dict[str, Any]) -> None:
    """What pydantic cannot know: durations accept ``30s`` or seconds, pipeline names a pattern."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("format") == "duration" and node.get("type") == "string":
                return {**{k: v for k, v in node.items() if k in ("title", "description")}, **DURATION}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    for name in list(defs):
        defs[name] = walk(defs[name])
        if name.startswith("PipelineConfig"):
            defs[name]["properties"]["name"]["pattern"] = PIPELINE_NAME.pattern


def build_openapi(routes: Iterable[BaseRoute], *, auth: bool) -> dict[str, Any]:
    api_routes = [r for r in routes if isinstance(r, ApiRoute)]
    wanted: dict[tuple[Any, Mode], None] = {(ErrorBody, "serialization"): None}
    for route in api_routes:
        if route.doc.body is not None:
            wanted[(route.doc.body, "validation")] = None
        for reply in route.doc.responses.values():
            for model in _models(reply.schema):
                wanted[(model, "serialization")] = None
    refs, top = models_json_schema(list(wanted), ref_template=REF, by_alias=True)
    defs: dict[str, Any] = top.get("$defs", {})
    _fix_schemas(defs)
    paths: dict[str, dict[str, Any]] = {}
    for route in api_routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, dict(refs), auth)
    components: dict[str, Any] = {"schemas": defs}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Interlock API", "version": __version__, "description": DESCRIPTION},
        "tags": [{"name": t} for t in dict.fromkeys(r.doc.tag for r in api_routes)],
        "paths": paths,
        "components": components,
    }
    if auth:
        components["securitySchemes"] = {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "bearer": {"type": "http", "scheme": "bearer"},
        }
        document["security"] = [{"apiKey": []}, {"bearer": []}]
    return document
