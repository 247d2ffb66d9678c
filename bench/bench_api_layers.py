"""The readiness GET's HTTP layers one by one, in process: what each middleware costs around a
constant answer.

The same route (a constant ``{}`` answer) behind Interlock's middleware stack as ``create_app``
composes it, then with one middleware left out at a time, then with none; ASGI apps called
directly with the same HTTP scope (no server, no socket), measured in turns (the order rotated),
``--requests`` calls each, CPU per request (``time.process_time``). The difference between a row
and *every middleware* is that middleware's share; *the route alone* is the route called without
Starlette's application (its exception layers and routing).

    .venv/bin/python bench/bench_api_layers.py [--requests 2000] [--reps 5]
"""

from __future__ import annotations

from typing import Any, TextIO

from _support import (
    archetype,
    cpu_per_request_main,
    cpu_turns,
    open_engine,
    pipeline,
    workspace,
    write_project,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interlock_server.app import create_app
from interlock_server.errors import EXCEPTION_HANDLERS
from interlock_server.logging import configure_logging

PIPELINE = "bench-readiness"
KEY = "bench-layers-key"


async def constant(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


async def measure(store_dir: str | None, requests: int, reps: int, devnull: TextIO) -> dict[str, list[float]]:
    with workspace(store_dir, "api-layers") as root:
        write_project(root, [archetype("one-pushed", ["freshness"])],
                      pipelines=[pipeline(PIPELINE, "one-pushed", {"freshness": None})])
        engine = await open_engine(root)
        try:
            configure_logging("info", "json", devnull)
            stack = list(create_app(engine, env={"INTERLOCK_API_KEY": KEY}).user_middleware)
            context, rest = stack[0], stack[1:]
            route = Route("/api/pipelines/{id}/readiness", constant)
            variants: dict[str, list[Middleware]] = {
                "every middleware": stack,
                "no access line": [Middleware(context.cls, *context.args, **{**context.kwargs, "access_log": False}),
                                   *rest],
                **{f"without {m.cls.__name__}": [n for n in stack if n is not m] for m in stack},
                "no middleware": [],
            }
            apps: dict[str, Any] = {name: Starlette(routes=[route], middleware=middleware,
                                                    exception_handlers=EXCEPTION_HANDLERS)
                                    for name, middleware in variants.items()}
            apps["the route alone"] = route
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                     "scheme": "http", "path": f"/api/pipelines/{PIPELINE}/readiness", "raw_path": b"",
                     "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8080),
                     "client": ("127.0.0.1", 50000), "path_params": {"id": PIPELINE},
                     "headers": [(b"host", b"127.0.0.1:8080"), (b"x-api-key", KEY.encode())]}
            statuses: list[int] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            for app in apps.values():  # warm-up, and every variant answers 200
                for _ in range(min(requests, 200)):
                    await app(dict(scope), receive, send)
            assert set(statuses) == {200}, statuses
            cpu = await cpu_turns(apps, lambda app: app(dict(scope), receive, send), requests, reps)
        finally:
            await engine.aclose()
    return cpu


def main() -> None:
    cpu_per_request_main(__doc__ or "", "api layers", measure, requests=2000, reps=5, quick_requests=100,
                         label="{}: CPU µs/request")


if __name__ == "__main__":
    main()
