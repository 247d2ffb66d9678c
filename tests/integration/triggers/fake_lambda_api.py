"""A local stand-in for the Lambda Invoke API (``POST /2015-03-31/functions/{name}/invocations``):
it records each invocation and answers what the test queued — a result, a function error
(``X-Amz-Function-Error: Handled|Unhandled`` with ``{"errorType", "errorMessage"}``) or an API
error (``X-Amzn-ErrorType``) — or, with nothing queued, echoes the payload (as moto does)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Invocation:
    function: str
    qualifier: str | None
    invocation_type: str
    payload: Any


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def function_error(kind: str, error_type: str, message: str) -> Answer:
    return Answer(200, {"errorType": error_type, "errorMessage": message, "trace": []},
                  {"X-Amz-Function-Error": kind})


def api_error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"Type": "User", "message": message}, {"X-Amzn-ErrorType": code})


@dataclass
class FakeLambda:
    invocations: list[Invocation] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/2015-03-31/functions/{name}/invocations", self._invoke, methods=["POST"])])

    async def _invoke(self, request: Request) -> Response:
        raw = await request.body()
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        self.invocations.append(Invocation(request.path_params["name"], request.query_params.get("Qualifier"),
                                           kind, json.loads(raw) if raw else None))
        answer = self.answers.pop(0) if self.answers else Answer(202 if kind == "Event" else 200)
        body = raw if answer.body is None else json.dumps(answer.body).encode()
        headers = {"Content-Type": "application/json", "X-Amzn-RequestId": f"req-{len(self.invocations)}",
                   "X-Amz-Executed-Version": "$LATEST", **answer.headers}
        return Response(body if kind != "Event" or answer.status >= 400 else b"", status_code=answer.status,
                        headers=headers)
