"""The readiness GET's floor, in process: what its features cost at the least, against Interlock's app.

Four ASGI apps called directly with the same HTTP scope (no server, no socket), measured in turns
(the order rotated), ``--requests`` calls each, CPU per request (``time.process_time``):

* **bare** — a Starlette route answering the readiness document with Starlette's ``JSONResponse``
  (``bench_api.py``'s bare server);
* **floor** — the same route answering through Interlock's ``JSONResponse`` (the one redaction
  pass, compact JSON), behind one pure-ASGI wrapper doing the least of the rest: the request id
  (read or made, echoed) and ``nosniff`` headers, the API key compared in constant time, the
  latency histogram, one access line through Interlock's access log;
* **app layers** — Interlock's app over an engine whose readiness and state answers are
  precomputed (every middleware, routing, the route, the answer, the access line);
* **interlock** — Interlock's app over the SQLite store (one store read per request).

A server adds the same cost to each (hypercorn's own, ``bench_api.py``'s bare server CPU minus
the bare app's here); the floor's ratio to bare, with that added, is the least ``bench_api.py``'s
CPU ratio could come to without the store read.

    .venv/bin/python bench/bench_api_floor.py [--requests 3000] [--reps 3]
    .venv/bin/python bench/bench_api_floor.py --instructions [--requests 1000]

``--instructions`` counts instead of timing: each app runs in a fresh interpreter under valgrind's
callgrind (Debian's ``valgrind``), once with ``--requests`` calls after the warm-up and once with
none, and the difference ÷ ``--requests`` is the machine instructions one request costs (user space;
``PYTHONHASHSEED=0``). A count is the same from run to run within a fraction of a percent and does
not move with the machine's load, so it tells a change of a few percent that CPU time, moving
±20 % on a busy machine, cannot; it does not see memory and cache effects (a larger app's code also
runs at fewer instructions per cycle), so it understates the CPU ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TextIO

from _support import (
    archetype,
    asgi_call,
    cpu_per_request_main,
    cpu_turns,
    open_engine,
    pipeline,
    report,
    workspace,
    write_project,
)
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse as StarletteJSON
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interlock_core.metrics import METRICS
from interlock_server.app import create_app
from interlock_server.logging import configure_logging, log_access
from interlock_server.request_context import new_request_id
from interlock_server.responses import JSONResponse, error_response

TRAITS = ["freshness", "volume", "schema"]
PIPELINE = "bench-readiness"
KEY = "bench-floor-key"
ROUTE = "/api/pipelines/{id}/readiness"
WARM_UP = 300


class Least:
    """The least of the readiness GET's features around an app: request id, headers, the key, the
    latency histogram, the access line."""

    def __init__(self, app: ASGIApp, key: bytes) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None) \
            or new_request_id()
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers.append("X-Request-ID", request_id)
                headers.append("X-Content-Type-Options", "nosniff")
            await send(message)

        token = next((v for k, v in scope["headers"] if k == b"x-api-key"), b"")
        if hmac.compare_digest(token, self.key):
            await self.app(scope, receive, send_with_id)
        else:
            await error_response(401, "unauthorized")(scope, receive, send_with_id)
        elapsed = time.perf_counter() - started
        METRICS.observe("bench_floor_seconds", elapsed, method="GET", route=ROUTE, status=str(status))
        log_access("info", method=scope["method"], path=scope["path"], route=ROUTE, status=status,
                   duration_ms=round(elapsed * 1000, 3), client="127.0.0.1:50000", request_id=request_id)



async def precompute_readiness(engine: Any, pipeline_id: str) -> None:
    """Make ``engine`` answer ``GET .../readiness`` without reading: its readiness and its state
    (which the route asks for next, as its word) computed once now. With the readiness alone
    precomputed, the state would be read with the store's separate calls (no read for it to share):
    more than the real GET reads."""
    result = await engine.check_readiness(pipeline_id)
    view = await engine.pipeline_state(pipeline_id, readiness=result)

    async def readiness(asked: str) -> Any:
        return result

    async def state(asked: Any, **_: Any) -> Any:
        return view

    async def state_word(asked: Any, **_: Any) -> Any:
        return view.state

    engine.check_readiness = readiness
    engine.pipeline_state = state
    engine.pipeline_state_word = state_word


@asynccontextmanager
async def floor_apps(store_dir: str | None, warm: tuple[str, ...] = ()
                     ) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The four apps and the HTTP scope of the readiness GET; the apps ``warm`` names (default all)
    warmed up, each answering 200."""
    with workspace(store_dir, "api-floor") as root:
        write_project(root, [archetype("three-pushed", TRAITS)],
                      pipelines=[pipeline(PIPELINE, "three-pushed", dict.fromkeys(TRAITS))])
        engine = await open_engine(root)
        layers_engine = await open_engine(root)
        try:
            for trait in TRAITS:
                await engine.push_trait(PIPELINE, trait, "PASS", ttl=0)
            await precompute_readiness(layers_engine, PIPELINE)
            interlock = create_app(engine, env={"INTERLOCK_API_KEY": KEY})
            document: dict[str, Any] = {}

            async def bare_route(request: Request) -> StarletteJSON:
                return StarletteJSON(document)

            async def floor_route(request: Request) -> JSONResponse:
                return JSONResponse(document)

            apps = {
                "bare": Starlette(routes=[Route(ROUTE, bare_route)]),
                "floor": Least(Starlette(routes=[Route(ROUTE, floor_route)]), KEY.encode()),
                "app layers": create_app(layers_engine, env={"INTERLOCK_API_KEY": KEY}),
                "interlock": interlock,
            }
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                     "scheme": "http", "path": f"/api/pipelines/{PIPELINE}/readiness", "raw_path": b"",
                     "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8080),
                     "client": ("127.0.0.1", 50000),
                     "headers": [(b"host", b"127.0.0.1:8080"), (b"x-api-key", KEY.encode())]}
            captured: dict[str, Any] = {}

            async def grab(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    captured["body"] = message["body"]

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            await interlock(dict(scope), receive, grab)
            document.update(json.loads(captured["body"]))
            for name in warm or apps:  # warm-up
                for _ in range(WARM_UP):
                    assert await asgi_call(apps[name], dict(scope)) == 200
            yield apps, scope
        finally:
            await engine.aclose()
            await layers_engine.aclose()


async def measure(store_dir: str | None, requests: int, reps: int, devnull: TextIO) -> dict[str, list[float]]:
    configure_logging("info", "json", devnull)
    async with floor_apps(store_dir) as (apps, scope):
        return await cpu_turns(apps, lambda app: asgi_call(app, dict(scope)), requests, reps)


# ----------------------------------------------------------------------------- instructions
APPS = ("bare", "floor", "app layers", "interlock")
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def call_one(store_dir: str | None, name: str, requests: int) -> None:
    """Child process: the apps built and warmed up, then ``requests`` calls of app ``name``."""
    async def run() -> None:
        async with floor_apps(store_dir, warm=(name,)) as (apps, scope):
            app = apps[name]
            for _ in range(requests):
                await asgi_call(app, dict(scope))

    with open(os.devnull, "w") as devnull:
        configure_logging("info", "json", devnull)
        asyncio.run(run())


def counted(store_dir: str | None, name: str, requests: int) -> int:
    """Instructions (user space) of a child calling app ``name`` ``requests`` times after the warm-up."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
               "--call-one", name, "--requests", str(requests), *(["--store-dir", store_dir] if store_dir else [])]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
                          check=False)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run of {name!r} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1))


def instructions_main(store_dir: str | None, requests: int) -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    per_request = {name: (counted(store_dir, name, requests) - counted(store_dir, name, 0)) / requests
                   for name in APPS}
    rows: list[tuple[str, Any]] = [("requests counted per app (after the warm-up)", requests)]
    rows += [(f"{name}: instructions/request", f"{per_request[name]:,.0f}") for name in APPS]
    rows += [(f"{name} ÷ bare", f"{per_request[name] / per_request['bare']:.2f}") for name in APPS[1:]]
    report("api floor instructions", rows, {"requests": requests, "instructions_per_request": per_request})


def main() -> None:
    if "--call-one" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--call-one", choices=APPS, required=True)
        parser.add_argument("--requests", type=int, required=True)
        parser.add_argument("--store-dir", default=None)
        child = parser.parse_args()
        call_one(child.store_dir, child.call_one, child.requests)
        return
    if "--instructions" in sys.argv:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--instructions", action="store_true", required=True)
        parser.add_argument("--requests", type=int, default=1000, help="calls counted per app (default 1000)")
        parser.add_argument("--quick", action="store_true", help="100 calls")
        parser.add_argument("--store-dir", default=None)
        args = parser.parse_args()
        instructions_main(args.store_dir, 100 if args.quick else args.requests)
        return
    cpu_per_request_main(__doc__ or "", "api floor", measure, requests=3000, reps=3, quick_requests=200,
                         label="{} app CPU µs/request")


if __name__ == "__main__":
    main()
