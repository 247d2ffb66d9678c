"""API throughput: ``GET /api/pipelines/{id}/readiness`` at 32 concurrent keep-alive connections.

Two servers, each one process of the same hypercorn, measured alternately in the same run:

* **interlock** — the real ``interlock serve --no-watcher`` (SQLite store, API key required, one
  JSON access-log line per request to stderr, latency histogram, request ids), answering the
  readiness of a pipeline of three pushed traits (a pipeline read and a trait listing per request);
* **bare** — a Starlette app with one route returning the same JSON document as a constant;
* **app layers** (unless ``--no-breakdown``) — Interlock's app (every middleware, the route, the
  response) over an engine whose ``check_readiness`` returns a precomputed result: what the HTTP
  layer costs without the store reads, to split the gap between the two.

Load: ``wrk`` (one thread, ``--latency``) when installed, else an httpx async generator with 32
workers on a 32-connection keep-alive pool; both bounded by ``--duration`` seconds after a
warm-up; the servers take turns, ``--reps`` times. Loopback only. Figures: req/s and p50/p99
latency of each (medians over the turns), and the ratio interlock ÷ bare req/s (the median of the
per-turn ratios, which cancels most of the drift of a shared machine; target ≥ 0.5).

The store is SQLite (the default) or, with ``--store redis``, the Redis at ``--redis-addr`` under a
fresh key prefix that is deleted afterwards.

    .venv/bin/python bench/bench_api.py [--quick] [--duration 10] [--reps 3] [--tool wrk|httpx]
                                        [--store sqlite|redis]
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from _support import archetype, arguments, median, met, percentile, pipeline, report, workspace, write_project

TARGET = 0.5
KEY = "bench-api-key"
TRAITS = ["freshness", "volume", "schema"]
PIPELINE = "bench-readiness"
SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]


# ----------------------------------------------------------------------------- the bare server
def serve_bare(document_file: str) -> None:
    """Child process: a bare Starlette JSON endpoint on hypercorn, printing its URL."""
    import socket

    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    document = json.loads(Path(document_file).read_text())

    async def readiness(request: Request) -> JSONResponse:
        return JSONResponse(document)

    app = Starlette(routes=[Route("/api/pipelines/{id}/readiness", readiness)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


def serve_app_layers(root: str) -> None:
    """Child process: Interlock's app over an engine whose readiness answer is precomputed."""
    import socket

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from interlock_core.config import load_project
    from interlock_core.engine import NullAlerts
    from interlock_core.engine.factory import build_engine, start_engine
    from interlock_server.app import create_app
    from interlock_server.logging import configure_logging

    async def run() -> None:
        project = load_project(root)
        engine = build_engine(project, alerts=NullAlerts())
        await start_engine(engine, project)
        result = await engine.check_readiness(PIPELINE)

        async def precomputed(pipeline_id: str) -> Any:
            return result

        engine.check_readiness = precomputed  # type: ignore[method-assign]
        configure_logging(project.config.logging.level, "json")
        app = create_app(engine, server=project.config.server, provider=project.config.provider,
                         env={"INTERLOCK_API_KEY": KEY})
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.accesslog = None
        await serve(app, config)  # type: ignore[arg-type]

    asyncio.run(run())


# ----------------------------------------------------------------------------- processes
@asynccontextmanager
async def server(command: list[str], env: dict[str, str]) -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(*command, env={**os.environ, **env}, cwd=str(ROOT),
                                                   stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        match = re.search(r"listening on (http://\S+)", line)
        if match is None:
            raise RuntimeError(f"server did not start: {line!r}")
        yield match.group(1)
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


# ----------------------------------------------------------------------------- load
def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, connections: int, duration: float, headers: dict[str, str]) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": _ms(*p50.groups()) if p50 else float("nan"),
            "p99_ms": _ms(*p99.groups()) if p99 else float("nan"), "errors": float(errors.group(1)) if errors else 0.0}


async def run_httpx(url: str, connections: int, duration: float, headers: dict[str, str],
                    max_requests: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline and len(latencies) < max_requests:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return {"rps": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000, "errors": float(errors)}


async def measure(tool: str, url: str, args: Any, duration: float, headers: dict[str, str]) -> dict[str, float]:
    if tool == "wrk":
        await asyncio.to_thread(run_wrk, url, args.connections, 1, headers)  # warm-up
        return await asyncio.to_thread(run_wrk, url, args.connections, duration, headers)
    await run_httpx(url, args.connections, 1.0, headers, 2_000)
    return await run_httpx(url, args.connections, duration, headers, args.max_requests)


# ----------------------------------------------------------------------------- store
def use_redis(root: Path, addr: str) -> str:
    """Point the project at Redis under a fresh key prefix; returns the prefix."""
    prefix = f"interlock-bench-api-{uuid.uuid4().hex[:8]}:"
    config = yaml.safe_load((root / "interlock.yaml").read_text())
    config.pop("sqlite", None)
    config.update(provider="redis", redis={"addr": addr, "keyPrefix": prefix})
    (root / "interlock.yaml").write_text(yaml.safe_dump(config))
    return prefix


async def drop_redis_keys(addr: str, prefix: str) -> None:
    import redis.asyncio as redis

    host, _, port = addr.rpartition(":")
    client = redis.Redis(host=host, port=int(port))
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def compare(root: Path, args: Any, tool: str, duration: float, reps: int,
                  headers: dict[str, str]) -> dict[str, list[dict[str, float]]]:
    """Start both servers and measure them alternately; the figures of every measurement."""
    interlock = [sys.executable, "-m", "interlock_server.cli.main", "-C", str(root), "serve",
                 "--host", "127.0.0.1", "--port", "0", "--no-watcher"]
    async with server(interlock, {"INTERLOCK_API_KEY": KEY, "NO_COLOR": "1"}) as base:
        async with httpx.AsyncClient(base_url=base, headers=headers) as client:
            for trait in TRAITS:
                pushed = await client.post(f"/api/pipelines/{PIPELINE}/traits/{trait}",
                                           json={"status": "PASS", "ttl": 0})
                pushed.raise_for_status()
            document = (await client.get(f"/api/pipelines/{PIPELINE}/readiness")).json()
        assert document["status"] == "READY", document
        (root / "document.json").write_text(json.dumps(document))
        bare_command = [sys.executable, str(SCRIPT), "--bare-server", str(root / "document.json")]
        layers_command = [sys.executable, str(SCRIPT), "--app-layers-server", str(root)]
        async with server(bare_command, {}) as bare_base, \
                server(layers_command if args.breakdown else bare_command, {}) as layers_base:
            path = f"/api/pipelines/{PIPELINE}/readiness"
            targets = {"bare": bare_base, "interlock": base, **({"layers": layers_base} if args.breakdown else {})}
            results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for _ in range(reps):
                for name, url in targets.items():
                    results[name].append(await measure(tool, url + path, args, duration, headers))
    return results


# ----------------------------------------------------------------------------- main
async def main() -> None:
    args = arguments(__doc__ or "", [
        ("--duration", {"type": float, "default": None, "help": "seconds per measurement (default 10)"}),
        ("--reps", {"type": int, "default": None, "help": "alternating measurements of each (default 3)"}),
        ("--connections", {"type": int, "default": 32}),
        ("--max-requests", {"type": int, "default": 200_000, "help": "httpx mode: stop after this many"}),
        ("--tool", {"choices": ["auto", "wrk", "httpx"], "default": "auto"}),
        ("--store", {"choices": ["sqlite", "redis"], "default": "sqlite"}),
        ("--redis-addr", {"default": "127.0.0.1:6379"}),
        ("--no-breakdown", {"dest": "breakdown", "action": "store_false",
                            "help": "skip the app-layers-only server"}),
    ])
    duration = args.duration or (2.0 if args.quick else 10.0)
    reps = args.reps or (1 if args.quick else 3)
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")
    headers = {"X-API-Key": KEY}
    with workspace(args.store_dir, "api") as root:
        write_project(root, [archetype("three-pushed", TRAITS)],
                      pipelines=[pipeline(PIPELINE, "three-pushed", dict.fromkeys(TRAITS))])
        prefix = use_redis(root, args.redis_addr) if args.store == "redis" else None
        try:
            results = await compare(root, args, tool, duration, reps, headers)
        finally:
            if prefix is not None:
                await drop_redis_keys(args.redis_addr, prefix)
    figures: dict[str, Any] = {"tool": tool, "store": args.store, "connections": args.connections,
                               "duration_s": duration, "reps": reps}
    for name, runs in results.items():
        figures[f"{name}_rps"] = round(median([r["rps"] for r in runs]), 1)
        figures[f"{name}_p50_ms"] = round(median([r["p50_ms"] for r in runs]), 3)
        figures[f"{name}_p99_ms"] = round(median([r["p99_ms"] for r in runs]), 3)
        figures[f"{name}_errors"] = int(sum(r["errors"] for r in runs))
    figures["ratio"] = round(median([i["rps"] / b["rps"] for i, b in zip(results["interlock"], results["bare"],
                                                                        strict=True)]), 3)
    if "layers" in results:
        figures["layers_ratio"] = round(median([a["rps"] / b["rps"] for a, b in zip(results["layers"],
                                                                                 results["bare"], strict=True)]), 3)
    figures["target"] = TARGET
    figures["met"] = met(figures["ratio"], TARGET, at_most=False) and figures["interlock_errors"] == 0
    report("api readiness throughput", [
        ("load generator", f"{tool}, {args.connections} keep-alive connections, {duration:g}s × {reps}"),
        ("store", args.store),
        ("bare Starlette req/s", figures["bare_rps"]),
        ("bare p50 / p99 ms", f"{figures['bare_p50_ms']} / {figures['bare_p99_ms']}"),
        ("interlock req/s", figures["interlock_rps"]),
        ("interlock p50 / p99 ms", f"{figures['interlock_p50_ms']} / {figures['interlock_p99_ms']}"),
        *([("app layers only req/s", figures["layers_rps"]),
           ("app layers p50 / p99 ms", f"{figures['layers_p50_ms']} / {figures['layers_p99_ms']}"),
           ("ratio app layers ÷ bare", figures["layers_ratio"])] if "layers" in results else []),
        ("ratio interlock ÷ bare", figures["ratio"]),
        (f"target ≥ {TARGET}", "met" if figures["met"] else "NOT met"),
    ], figures)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bare-server":
        serve_bare(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--app-layers-server":
        serve_app_layers(sys.argv[2])
    else:
        asyncio.run(main())
