"""What every route shares: the documented route class, body and query parsing, the API state.

An :class:`ApiRoute` is a Starlette ``Route`` that also carries its :class:`Doc` — the summary,
request body model, query parameters and responses the OpenAPI document is built from — so the
route table is the single source of both behaviour and documentation.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pydantic
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from interlock_core.errors import ValidationError

from ..state import ApiState

M = TypeVar("M", bound=pydantic.BaseModel)
Endpoint = Callable[[Request], Awaitable[Response]]

# path parameter -> log context key
CONTEXT_KEYS = {"id": "pipeline", "runId": "run_id", "rerunId": "rerun_id", "alertId": "alert_id"}


@dataclass(frozen=True)
class Reply:
    """One documented response. ``schema``: a pydantic model, ``list[Model]``, a JSON schema dict,
    or None (no body)."""

    description: str
    schema: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: Mapping[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Doc:
    summary: str
    tag: str
    responses: Mapping[int, Reply]
    body: type[pydantic.BaseModel] | None = None
    body_required: bool = True
    query: Sequence[Param] = ()
    public: bool = False
    description: str | None = None
    uses_store: bool = True


class ApiRoute(Route):
    def __init__(self, path: str, endpoint: Endpoint, *, method: str, doc: Doc) -> None:
        super().__init__(path, _with_log_context(endpoint), methods=[method], name=endpoint.__name__)
        self.app = _answering(self.endpoint)
        self.method = method
        self.doc = doc


def _answering(endpoint: Endpoint) -> ASGIApp:
    """The route's ASGI app: Starlette's ``request_response`` without its own exception handling
    layer. An error raised here reaches the app's exception middleware, which answers it with the
    same handlers (the request they are given is built on the same scope)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


def _with_log_context(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def bound(request: Request) -> Response:
        context = {CONTEXT_KEYS[k]: v for k, v in request.path_params.items() if k in CONTEXT_KEYS}
        if context:
            structlog.contextvars.bind_contextvars(**context)
        return await endpoint(request)

    return bound


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


# ------------------------------------------------------------------------------------ bodies


def validation_error(exc: pydantic.ValidationError, prefix: tuple[str | int, ...] = ()) -> ValidationError:
    """A pydantic error as the core's ValidationError: the first problem in the message, every
    problem (field + message) in ``errors``."""
    problems = []
    for item in exc.errors():
        where = ".".join(str(part) for part in (*prefix, *item["loc"]))
        message = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        problems.append({"field": where or "body", "message": message})
    first = problems[0] if problems else {"field": "body", "message": "invalid request body"}
    error = ValidationError(f"{first['field']}: {first['message']}", field=first["field"])
    error.details["errors"] = problems
    return error


MAX_JSON_DEPTH = 64
"""How deep a request body may nest objects and arrays: far beyond any pipeline, and far from
the interpreter's recursion limit in what walks it later (validation, masking, storing)."""

_TOO_DEEP = object()
_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(data: Any) -> str | None:
    """The dotted path of the first string (or key) holding a lone UTF-16 surrogate (``"\\ud800"``
    is valid JSON but no character: nothing could store or show it), or None."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return where or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    return where or "body"
                stack.append((item, f"{where}.{key}" if where else str(key)))
        elif isinstance(value, list):
            stack.extend((item, f"{where}.{i}" if where else str(i)) for i, item in enumerate(value))
    return None


def nesting(data: Any) -> int:
    """How deep ``data`` nests (a scalar: 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        stack.extend((child, depth + 1) for child in children)
    return deepest


async def read_body(request: Request, model: type[M], *, required: bool = True) -> M:
    """Parse the request body as ``model`` (the browser guard has already refused a body that is not
    declared application/json)."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ValidationError("a JSON request body is required", field="body")
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(f"invalid JSON: {exc}", field="body") from None
        except RecursionError:  # nested too deep for the parser itself
            data = _TOO_DEEP
        if data is _TOO_DEEP or nesting(data) > MAX_JSON_DEPTH:
            raise ValidationError(f"the request body nests deeper than {MAX_JSON_DEPTH} levels", field="body")
        where = lone_surrogate(data)
        if where is not None:
            raise ValidationError(f"{where}: not valid Unicode (a lone UTF-16 surrogate)", field=where)
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise validation_error(exc) from None


# ------------------------------------------------------------------------------------ query


def limit_param(default: int, maximum: int) -> Param:
    return Param("limit", f"How many items to return (1-{maximum}, default {default}).",
                 {"type": "integer", "minimum": 1, "maximum": maximum, "default": default})


def read_limit(request: Request, param: Param) -> int:
    raw = request.query_params.get("limit")
    default, maximum = int(param.schema["default"]), int(param.schema["maximum"])
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise ValidationError(f"limit must be an integer between 1 and {maximum}", field="limit")
    return value


def query_text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None
