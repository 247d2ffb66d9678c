"""Access log: its share of the API application's CPU on a readiness GET, in process.

Interlock's ASGI app (every middleware, the route, the JSON response) over an engine whose
readiness and state answers are precomputed (``bench_api_floor.precompute_readiness``), called
directly with an HTTP scope — no server, no socket, no store read: the CPU the application itself
spends per request. Two apps in the same process, measured in turns (order rotated),
``--requests`` calls each: with the access log (one JSON line per request, to ``/dev/null``) and
without it. Figures: CPU µs per request of each
(``time.process_time``), the access log's share of the app's CPU, and the CPU of one access line
written by itself. Target (issue 20): the access line costs well under the 27 % of app CPU it
cost before — measured here as the share, with no fixed threshold.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, TextIO

from _support import archetype, arguments, asgi_call, open_engine, pipeline, report, rotated, shown, spread, workspace
from _support import write_project as write_bench_project
from bench_api_floor import precompute_readiness

from interlock_server.app import create_app
from interlock_server.logging import configure_logging

TRAITS = ["freshness", "volume", "schema"]
PIPELINE = "bench-readiness"
KEY = "bench-access-log-key"



def access_line_cpu(count: int) -> float:
    """CPU seconds of one access line written on its own (the path the request context takes)."""
    try:
        from interlock_server.logging import log_access
    except ImportError:  # a tree before the cheap access line: the structlog call it made
        import structlog

        def log_access(level: str, **fields: Any) -> None:
            getattr(structlog.get_logger("interlock.http"), level)("request", **fields)

    import structlog

    fields = {"method": "GET", "path": f"/api/pipelines/{PIPELINE}/readiness",
              "route": "/api/pipelines/{id}/readiness", "status": 200, "duration_ms": 0.5,
              "client": "127.0.0.1:50000"}
    structlog.contextvars.bind_contextvars(request_id="0123456789abcdef", pipeline=PIPELINE)
    try:
        started = time.process_time()
        for _ in range(count):
            log_access("info", **fields)
        return (time.process_time() - started) / count
    finally:
        structlog.contextvars.clear_contextvars()


async def measure(store_dir: str | None, requests: int, reps: int, devnull: TextIO
                  ) -> tuple[dict[bool, list[float]], list[float]]:
    """CPU per request of the app with and without the access log, and of one access line alone."""
    with workspace(store_dir, "access-log") as root:
        write_bench_project(root, [archetype("three-pushed", TRAITS)],
                            pipelines=[pipeline(PIPELINE, "three-pushed", dict.fromkeys(TRAITS))])
        engine = await open_engine(root)
        try:
            for trait in TRAITS:
                await engine.push_trait(PIPELINE, trait, "PASS")
            await precompute_readiness(engine, PIPELINE)
            configure_logging("info", "json", devnull)
            apps = {logged: create_app(engine, env={"INTERLOCK_API_KEY": KEY}, access_log=logged)
                    for logged in (True, False)}
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                     "scheme": "http", "path": f"/api/pipelines/{PIPELINE}/readiness", "raw_path": b"",
                     "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8080),
                     "client": ("127.0.0.1", 50000),
                     "headers": [(b"host", b"127.0.0.1:8080"), (b"x-api-key", KEY.encode())]}
            for app in apps.values():  # warm-up
                for _ in range(min(requests, 500)):
                    assert await asgi_call(app, dict(scope)) == 200
            cpu: dict[bool, list[float]] = {True: [], False: []}
            for turn in range(reps):
                for logged in rotated([True, False], turn):
                    started = time.process_time()
                    for _ in range(requests):
                        await asgi_call(apps[logged], dict(scope))
                    cpu[logged].append((time.process_time() - started) / requests)
            line = [access_line_cpu(requests) for _ in range(reps)]
        finally:
            await engine.aclose()
    return cpu, line


def main() -> None:
    args = arguments(__doc__ or "", [
        ("--requests", {"type": int, "default": None, "help": "calls per turn (default 5000)"}),
        ("--reps", {"type": int, "default": None, "help": "turns (default 5)"}),
    ])
    requests = args.requests or (200 if args.quick else 5000)
    reps = args.reps or (1 if args.quick else 5)
    with open(os.devnull, "w") as devnull:
        cpu, line = asyncio.run(measure(args.store_dir, requests, reps, devnull))
    shares = [(on - off) / on for on, off in zip(cpu[True], cpu[False], strict=True)]
    line_share = [one / on for one, on in zip(line, cpu[True], strict=True)]
    report("access_log", [
        ("app", "Interlock's ASGI app, readiness GET, precomputed readiness and state, in process"),
        ("requests per turn × turns (order rotated)", f"{requests} × {reps}"),
        ("app CPU µs/request with the access log", shown(cpu[True], 1e6, 4)),
        ("app CPU µs/request without it", shown(cpu[False], 1e6, 4)),
        ("access log share of app CPU (with − without) ÷ with", shown(shares)),
        ("one access line alone, CPU µs", shown(line, 1e6, 3)),
        ("one access line ÷ app CPU with it", shown(line_share)),
    ], {
        "requests": requests, "reps": reps,
        "app_cpu_us_with": [v * 1e6 for v in spread(cpu[True])],
        "app_cpu_us_without": [v * 1e6 for v in spread(cpu[False])],
        "share": spread(shares), "line_cpu_us": [v * 1e6 for v in spread(line)], "line_share": spread(line_share),
    })


if __name__ == "__main__":
    main()
