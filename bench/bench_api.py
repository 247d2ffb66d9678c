"""API throughput: ``GET /api/pipelines/{id}/readiness`` at 32 concurrent keep-alive connections.

Servers, each one process of the same hypercorn, measured in turns (the order rotated every turn):

* **interlock** — the real ``interlock serve --no-watcher`` (SQLite store, API key required, one
  JSON access-log line per request to stderr, latency histogram, request ids), answering the
  readiness of a pipeline of three pushed traits (the store's one read per request);
* **bare** — a Starlette app with one route returning the same JSON document as a constant;
* **floor** and **raw floor** (unless ``--no-breakdown``) — the least a readiness GET costs with
  the same features: one pure-ASGI wrapper doing the request id and ``nosniff`` headers, the API
  key in constant time, the latency histogram and the access line (``bench_api_floor.Least``),
  around a Starlette route that reads the pipeline's trait rows and answers them with a status
  (READY when every trait passes) through Interlock's redacting ``JSONResponse``: no readiness
  rule over the archetype, no cycles, no pipeline state, no middleware stack. The **floor** reads
  with the store's one call (``read_pipeline``, as the engine asks for it: trait rows, the
  current cycle's run log, the configuration's version, the reruns and runs); the **raw floor**
  with one plain client call of the trait rows, decoded with ``json.loads``: a ``sqlite3``
  statement of the live rows, or over Redis one redis-py ``MGET`` of the pipeline's trait keys
  (the client and round trip any Redis-backed GET pays); over Redis, the **wire floor** too: the
  same ``MGET`` over the least client there is (``_resp_wire.py``: one asyncio protocol connection,
  requests pipelined, replies parsed by hiredis, none of a client's pool, timeouts or retries),
  and the **trip floor**: the bare server's route with that one ``MGET`` awaited before it answers
  its constant document, none of the GET's features — the least any GET doing the one round trip
  to Redis costs, whatever it does around it. Floor ÷
  bare is the least the CPU ratio could be with these features when the answer is rendered (the
  redaction pass, then JSON) on every request; Interlock renders it from parts kept while the
  pipeline's stored rows are unchanged (``interlock_server/readiness_body.py``), so its GET can
  come under the floors. Interlock ÷ floor is what the engine and the app's layers add to it;
* **app layers** (unless ``--no-breakdown``) — Interlock's app (every middleware, the route, the
  response) over an engine whose readiness and state answers are precomputed
  (``bench_api_floor.precompute_readiness``): what the HTTP layer costs without the engine's read
  and computation, to split the gap between the two.

Load: ``raw`` (default) is the low-overhead generator of ``_http_load.py`` — asyncio protocols,
one request in flight per connection, a few µs of CPU per request; ``wrk`` (one thread) when asked
for and installed. Every measurement also reads the CPU the server process used
(``/proc/<pid>/stat``, all its threads) and the CPU the generator used, so a figure limited by the
generator shows as such (``generator CPU share``). Figures (min / median / max over the turns):
req/s, p50/p99 latency, server CPU µs per request; ratios interlock ÷ bare (per turn). Targets:
req/s ratio ≥ 0.6 and server CPU per request ≤ 1.6× bare's.

The store is SQLite (the default) or, with ``--store redis``, the Redis at ``--redis-addr`` under a
fresh key prefix that is deleted afterwards.

``--instructions`` counts instead of timing: each server in turn runs under valgrind's callgrind
(Debian's ``valgrind``), counting only while ``--requests`` GETs are answered one after another on
one keep-alive connection (after 300 uncounted ones), and reports the machine instructions (user
space) of the whole server process per request and each server's ratio to bare's. A count is the
same from run to run within a fraction of a percent, whatever the machine's load; it does not see
the kernel's share or what cache misses cost, which the CPU ratio under load does.

    .venv/bin/python bench/bench_api.py [--quick] [--duration 10] [--reps 3] [--tool raw|wrk]
                                        [--store sqlite|redis]
    .venv/bin/python bench/bench_api.py --instructions [--requests 1000] [--store sqlite|redis]
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from _http_load import generate, process_cpu_seconds
from _support import (
    archetype,
    arguments,
    median,
    met,
    open_engine,
    percentile,
    pipeline,
    report,
    rotated,
    shown,
    spread,
    workspace,
    write_project,
)

TARGET = 0.6
TARGET_CPU = 1.6
KEY = "bench-api-key"
TRAITS = ["freshness", "volume", "schema"]
PIPELINE = "bench-readiness"
FLOOR_SERVERS = {"--floor-server": "store", "--raw-floor-server": "raw", "--wire-floor-server": "wire",
                 "--trip-floor-server": "trip"}
SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]


# ----------------------------------------------------------------------------- the bare server
async def _serve_on_a_free_port(app: Any) -> None:
    """Serve ``app`` with hypercorn (no access log of its own) on a free loopback port, printing its URL."""
    import socket

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    await serve(app, config)


async def _started_engine(root: str) -> tuple[Any, Any]:
    """The project at ``root`` and an engine started on it (``_support.open_engine``)."""
    from interlock_core.config import load_project

    project = load_project(root)
    return project, await open_engine(Path(root), project=project)


def serve_bare(document_file: str) -> None:
    """Child process: a bare Starlette JSON endpoint on hypercorn, printing its URL."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    document = json.loads(Path(document_file).read_text())

    async def readiness(request: Request) -> JSONResponse:
        return JSONResponse(document)

    app = Starlette(routes=[Route("/api/pipelines/{id}/readiness", readiness)])
    asyncio.run(_serve_on_a_free_port(app))


def serve_app_layers(root: str) -> None:
    """Child process: Interlock's app over an engine whose readiness and state are precomputed."""
    from interlock_server.app import create_app
    from interlock_server.logging import configure_logging

    async def run() -> None:
        from bench_api_floor import precompute_readiness

        project, engine = await _started_engine(root)
        await precompute_readiness(engine, PIPELINE)
        configure_logging(project.config.logging.level, "json")
        app = create_app(engine, server=project.config.server, provider=project.config.provider,
                         env={"INTERLOCK_API_KEY": KEY})
        await _serve_on_a_free_port(app)

    asyncio.run(run())


def serve_floor(root: str, mode: str) -> None:
    """Child process: the least readiness GET with Interlock's features, over the store's one read
    (``store``), one plain SQLite statement or redis-py ``MGET`` of the trait rows (``raw``), or the
    same ``MGET`` over the least Redis client there is (``wire``: ``_resp_wire.py``); or the bare
    route with that ``MGET`` awaited first and none of the features (``trip``)."""
    import sqlite3

    from bench_api_floor import Least
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    from interlock_core.engine.rerun_slot import RERUN_SCAN_LIMIT
    from interlock_core.model import format_timestamp
    from interlock_core.schedule import current_cycle
    from interlock_server.logging import configure_logging
    from interlock_server.responses import JSONResponse

    async def run() -> None:
        project, engine = await _started_engine(root)
        config = await engine.get_pipeline(PIPELINE)
        store, clock = engine.store, engine.ctx.clock
        version = (await store.read_pipeline(PIPELINE, config=True)).config_version
        redis_config = yaml.safe_load((Path(root) / "interlock.yaml").read_text()).get("redis")
        keys: Any = getattr(store, "keys", None)
        conn = sqlite3.connect(Path(root) / "interlock.db") if redis_config is None else None
        sql = ("SELECT trait_type, data FROM traits WHERE pipeline_id = ? AND (expires_at IS NULL OR "
               "expires_at > ?)")

        def answer(pipeline_id: str, traits: list[dict[str, Any]], now: Any) -> JSONResponse:
            blocking = [t["traitType"] for t in traits if t["status"] != "PASS"]
            status = "READY" if len(traits) == len(TRAITS) and not blocking else "NOT_READY"
            return JSONResponse({"pipelineId": pipeline_id, "status": status, "traits": traits,
                                 "blocking": blocking, "evaluatedAt": format_timestamp(now), "state": status})

        async def from_store(request: Request) -> JSONResponse:
            pipeline_id, now = request.path_params["id"], clock.now()
            cycles = [(current_cycle(config, s, now), s.name) for s in config.resolved_schedules()]
            records = await store.read_pipeline(pipeline_id, cycles, readiness=False, config=True,
                                                known_version=version, history=RERUN_SCAN_LIMIT)
            return answer(pipeline_id, [t.to_json_dict() for t in records.traits.values()], now)

        async def from_sql(request: Request) -> JSONResponse:
            pipeline_id, now = request.path_params["id"], clock.now()
            assert conn is not None
            rows = conn.execute(sql, (pipeline_id, now.timestamp())).fetchall()
            return answer(pipeline_id, [json.loads(data) for _, data in rows], now)

        client: Any = None
        wire: Any = None
        if redis_config is not None:
            import redis.asyncio as redis
            from _resp_wire import WireRedis, command

            host, _, port = str(redis_config["addr"]).rpartition(":")
            client = redis.Redis(host=host, port=int(port))
            if mode in ("wire", "trip"):
                wire = await WireRedis.connect(host, int(port))

        async def from_redis(request: Request) -> JSONResponse:
            pipeline_id, now = request.path_params["id"], clock.now()
            raws = await client.mget([keys.trait(pipeline_id, t) for t in TRAITS])
            return answer(pipeline_id, [json.loads(raw) for raw in raws if raw is not None], now)

        async def from_wire(request: Request) -> JSONResponse:
            pipeline_id, now = request.path_params["id"], clock.now()
            raws = await wire.call(command(["MGET", *(keys.trait(pipeline_id, t) for t in TRAITS)]))
            return answer(pipeline_id, [json.loads(raw) for raw in raws if raw is not None], now)

        if mode == "trip":
            from starlette.responses import JSONResponse as BareJSONResponse

            document = json.loads((Path(root) / "document.json").read_text())

            async def trip(request: Request) -> BareJSONResponse:
                await wire.call(command(["MGET", *(keys.trait(request.path_params["id"], t) for t in TRAITS)]))
                return BareJSONResponse(document)

            await _serve_on_a_free_port(Starlette(routes=[Route("/api/pipelines/{id}/readiness", trip)]))
            return
        configure_logging(project.config.logging.level, "json")
        reads = {"store": from_store, "raw": from_sql if redis_config is None else from_redis, "wire": from_wire}
        route = Route("/api/pipelines/{id}/readiness", reads[mode])
        app = Least(Starlette(routes=[route]), KEY.encode())
        await _serve_on_a_free_port(app)

    asyncio.run(run())


# ----------------------------------------------------------------------------- processes
@asynccontextmanager
async def server(command: list[str], env: dict[str, str]) -> AsyncIterator[tuple[str, int]]:
    process = await asyncio.create_subprocess_exec(*command, env={**os.environ, **env}, cwd=str(ROOT),
                                                   stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        match = re.search(r"listening on (http://\S+)", line)
        if match is None:
            raise RuntimeError(f"server did not start: {line!r}")
        yield match.group(1), process.pid
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
    cpu = os.times()
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    after = os.times()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    client_cpu = (after.children_user + after.children_system) - (cpu.children_user + cpu.children_system)
    return {"rps": rps, "requests": total, "p50_ms": _ms(*p50.groups()) if p50 else float("nan"),
            "p99_ms": _ms(*p99.groups()) if p99 else float("nan"),
            "errors": float(errors.group(1)) if errors else 0.0, "client_cpu_s": client_cpu}


async def run_raw(url: str, connections: int, duration: float, headers: dict[str, str]) -> dict[str, float]:
    load = await generate(url, connections=connections, duration=duration, headers=headers)
    return {"rps": load.rps, "requests": float(load.requests), "p50_ms": percentile(load.latencies, 50) * 1000,
            "p99_ms": percentile(load.latencies, 99) * 1000, "errors": float(load.errors + load.reconnects),
            "client_cpu_s": load.client_cpu}


async def measure(tool: str, url: str, pid: int, args: Any, duration: float,
                  headers: dict[str, str]) -> dict[str, float]:
    """One measurement of the server ``pid`` at ``url`` (after a 1 s warm-up), with the CPU it used."""
    if tool == "wrk":
        await asyncio.to_thread(run_wrk, url, args.connections, 1, headers)
    else:
        await run_raw(url, args.connections, 1.0, headers)
    server_cpu, started = process_cpu_seconds(pid), time.perf_counter()
    if tool == "wrk":
        figures = await asyncio.to_thread(run_wrk, url, args.connections, duration, headers)
    else:
        figures = await run_raw(url, args.connections, duration, headers)
    wall = time.perf_counter() - started
    figures["server_cpu_s"] = process_cpu_seconds(pid) - server_cpu
    figures["server_cpu_us_per_request"] = figures["server_cpu_s"] / max(figures["requests"], 1) * 1e6
    figures["client_cpu_us_per_request"] = figures["client_cpu_s"] / max(figures["requests"], 1) * 1e6
    figures["server_cpu_share"] = figures["server_cpu_s"] / wall
    figures["client_cpu_share"] = figures["client_cpu_s"] / wall
    return figures


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


def interlock_command(root: Path) -> list[str]:
    """``interlock serve`` of the project at ``root`` on a free loopback port, without the watcher."""
    return [sys.executable, "-m", "interlock_server.cli.main", "-C", str(root), "serve",
            "--host", "127.0.0.1", "--port", "0", "--no-watcher"]


def breakdown(store: str) -> tuple[tuple[str, str], ...]:
    """The breakdown's servers: name and this script's flag that serves it."""
    return (("floor", "--floor-server"), ("raw floor", "--raw-floor-server"), ("layers", "--app-layers-server"),
            *((("wire floor", "--wire-floor-server"), ("trip floor", "--trip-floor-server"))
              if store == "redis" else ()))


async def compare(root: Path, args: Any, tool: str, duration: float, reps: int,
                  headers: dict[str, str]) -> dict[str, list[dict[str, float]]]:
    """Start the servers and measure them in turns; the figures of every measurement."""
    async with server(interlock_command(root), {"INTERLOCK_API_KEY": KEY, "NO_COLOR": "1"}) as (base, pid):
        async with httpx.AsyncClient(base_url=base, headers=headers) as client:
            for trait in TRAITS:
                pushed = await client.post(f"/api/pipelines/{PIPELINE}/traits/{trait}",
                                           json={"status": "PASS", "ttl": 0})
                pushed.raise_for_status()
            document = (await client.get(f"/api/pipelines/{PIPELINE}/readiness")).json()
        assert document["status"] == "READY", document
        (root / "document.json").write_text(json.dumps(document))
        bare_command = [sys.executable, str(SCRIPT), "--bare-server", str(root / "document.json")]
        commands = {"bare": bare_command}
        if args.breakdown:
            commands |= {name: [sys.executable, str(SCRIPT), flag, str(root)] for name, flag in breakdown(args.store)}
        async with AsyncExitStack() as servers:
            started = {name: await servers.enter_async_context(server(command, {}))
                       for name, command in commands.items()}
            targets = {"bare": started.pop("bare"), "interlock": (base, pid), **started}
            path = f"/api/pipelines/{PIPELINE}/readiness"
            results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for turn in range(reps):
                for name in rotated(list(targets), turn):
                    url, server_pid = targets[name]
                    results[name].append(await measure(tool, url + path, server_pid, args, duration, headers))
    return results


# ----------------------------------------------------------------------------- instructions
COUNTED_WARM_UP = 300
TOTALS = re.compile(r"^totals:\s*(\d+)", re.MULTILINE)


def _sequential_gets(url: str, path: str, requests: int) -> None:
    """``requests`` GETs of ``path``, one after another on one keep-alive connection, each a 200."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    try:
        for _ in range(requests):
            connection.request("GET", path, headers={"X-API-Key": KEY})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
    finally:
        connection.close()


def _counted_server(command: list[str], env: dict[str, str], out_file: Path, requests: int,
                    before: Any = None) -> int:
    """Instructions (user space) of the server ``command`` answering ``requests`` GETs under
    callgrind, counted after the warm-up only (``--instr-atstart=no``, then ``callgrind_control``);
    ``before(url)`` runs first, uncounted."""
    process = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                f"--callgrind-out-file={out_file}", *command],
                               env={**os.environ, **env, "PYTHONHASHSEED": "0"}, cwd=str(ROOT),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        match = re.search(r"listening on (http://\S+)", process.stdout.readline())
        if match is None:
            raise RuntimeError(f"server did not start under callgrind: {' '.join(command)}")
        url, path = match.group(1), f"/api/pipelines/{PIPELINE}/readiness"
        if before is not None:
            before(url)
        _sequential_gets(url, path, COUNTED_WARM_UP)
        subprocess.run(["callgrind_control", "--instr=on", str(process.pid)], check=True, capture_output=True)
        _sequential_gets(url, path, requests)
        subprocess.run(["callgrind_control", "--instr=off", str(process.pid)], check=True, capture_output=True)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    found = TOTALS.search(out_file.read_text())
    if found is None:
        raise RuntimeError(f"no totals in {out_file}")
    return int(found.group(1))


def count_instructions(root: Path, args: Any) -> dict[str, float]:
    """Each server's instructions per request, counted under callgrind one server at a time."""
    path = f"/api/pipelines/{PIPELINE}/readiness"

    def push_traits(url: str) -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=600) as client:
            for trait in TRAITS:
                client.post(f"/api/pipelines/{PIPELINE}/traits/{trait}",
                            json={"status": "PASS", "ttl": 0}).raise_for_status()
            document = client.get(path).json()
        assert document["status"] == "READY", document
        (root / "document.json").write_text(json.dumps(document))

    servers: dict[str, tuple[list[str], dict[str, str], Any]] = {
        "interlock": (interlock_command(root), {"INTERLOCK_API_KEY": KEY, "NO_COLOR": "1"}, push_traits),
        "bare": ([sys.executable, str(SCRIPT), "--bare-server", str(root / "document.json")], {}, None),
    }
    if args.breakdown:
        for name, flag in breakdown(args.store):
            servers[name] = ([sys.executable, str(SCRIPT), flag, str(root)], {}, None)
    counted: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="interlock-callgrind-") as scratch:
        for name, (command, env, before) in servers.items():  # interlock first: it pushes the traits
            out_file = Path(scratch) / f"callgrind.{name.replace(' ', '-')}"
            counted[name] = _counted_server(command, env, out_file, args.requests, before) / args.requests
    return counted


def report_instructions(counted: dict[str, float], args: Any) -> None:
    ratios = {name: value / counted["bare"] for name, value in counted.items() if name != "bare"}
    rows: list[tuple[str, Any]] = [("store", args.store),
                                   (f"GETs counted per server (after {COUNTED_WARM_UP})", args.requests)]
    rows += [(f"{name}: instructions/request", f"{value:,.0f}") for name, value in counted.items()]
    rows += [(f"{name} ÷ bare", f"{ratio:.3f}") for name, ratio in ratios.items()]
    report("api readiness instructions", rows, {"store": args.store, "requests": args.requests,
                                                "instructions_per_request": counted, "ratio_to_bare": ratios})


# ----------------------------------------------------------------------------- main
async def main() -> None:
    args = arguments(__doc__ or "", [
        ("--duration", {"type": float, "default": None, "help": "seconds per measurement (default 10)"}),
        ("--reps", {"type": int, "default": None, "help": "turns: measurements of each server (default 3)"}),
        ("--connections", {"type": int, "default": 32}),
        ("--tool", {"choices": ["auto", "raw", "wrk"], "default": "auto",
                    "help": "auto: raw (the generator of _http_load.py); wrk must be installed"}),
        ("--store", {"choices": ["sqlite", "redis"], "default": "sqlite"}),
        ("--redis-addr", {"default": "127.0.0.1:6379"}),
        ("--no-breakdown", {"dest": "breakdown", "action": "store_false",
                            "help": "skip the floor and app-layers servers"}),
        ("--instructions", {"action": "store_true",
                            "help": "count each server's instructions per request under callgrind instead"}),
        ("--requests", {"type": int, "default": None,
                        "help": "--instructions: GETs counted per server (default 1000)"}),
    ])
    args.requests = args.requests or (20 if args.quick else 1000)
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    duration = args.duration or (1.0 if args.quick else 10.0)
    reps = args.reps or (1 if args.quick else 3)
    tool = "raw" if args.tool == "auto" else args.tool
    if tool == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--tool wrk: wrk is not installed")
    headers = {"X-API-Key": KEY}
    with workspace(args.store_dir, "api") as root:
        write_project(root, [archetype("three-pushed", TRAITS)],
                      pipelines=[pipeline(PIPELINE, "three-pushed", dict.fromkeys(TRAITS))])
        prefix = use_redis(root, args.redis_addr) if args.store == "redis" else None
        try:
            if args.instructions:
                report_instructions(await asyncio.to_thread(count_instructions, root, args), args)
                return
            results = await compare(root, args, tool, duration, reps, headers)
        finally:
            if prefix is not None:
                await drop_redis_keys(args.redis_addr, prefix)

    def column(name: str, key: str) -> list[float]:
        return [run[key] for run in results[name]]

    def per_turn(name: str, key: str, against: str = "bare") -> list[float]:
        return [a[key] / b[key] for a, b in zip(results[name], results[against], strict=True) if b[key]]

    figures: dict[str, Any] = {"tool": tool, "store": args.store, "connections": args.connections,
                               "duration_s": duration, "reps": reps}
    rows: list[tuple[str, Any]] = [
        ("load generator", f"{tool}, {args.connections} keep-alive connections, {duration:g}s × {reps} turns"),
        ("store", args.store),
    ]
    for name in results:
        figures[name] = {key: spread(column(name, key)) for key in (
            "rps", "p50_ms", "p99_ms", "server_cpu_us_per_request", "client_cpu_us_per_request",
            "server_cpu_share", "client_cpu_share")}
        figures[name]["errors"] = int(sum(column(name, "errors")))
        rows += [
            (f"{name} req/s", shown(column(name, "rps"), 1, 4)),
            (f"{name} p50 / p99 ms (medians)",
             f"{median(column(name, 'p50_ms')):.3g} / {median(column(name, 'p99_ms')):.3g}"),
            (f"{name} server CPU µs/request", shown(column(name, "server_cpu_us_per_request"), 1, 4)),
            (f"{name} generator CPU µs/request", shown(column(name, "client_cpu_us_per_request"), 1, 3)),
            (f"{name} CPU share server / generator (medians)",
             f"{median(column(name, 'server_cpu_share')):.2f} / {median(column(name, 'client_cpu_share')):.2f}"),
            (f"{name} errors", figures[name]["errors"]),
        ]
    ratio, cpu_ratio = per_turn("interlock", "rps"), per_turn("interlock", "server_cpu_us_per_request")
    figures["ratio"], figures["cpu_ratio"] = spread(ratio), spread(cpu_ratio)
    rows += [("interlock ÷ bare req/s", shown(ratio)), ("interlock ÷ bare server CPU per request", shown(cpu_ratio))]
    for floor in ("floor", "raw floor", "wire floor", "trip floor"):
        if floor not in results:
            continue
        key = floor.replace(" ", "_")
        floor_ratio, floor_cpu = per_turn(floor, "rps"), per_turn(floor, "server_cpu_us_per_request")
        over_floor = per_turn("interlock", "server_cpu_us_per_request", against=floor)
        figures[f"{key}_ratio"], figures[f"{key}_cpu_ratio"] = spread(floor_ratio), spread(floor_cpu)
        figures[f"cpu_over_{key}"] = spread(over_floor)
        rows += [(f"{floor} ÷ bare req/s", shown(floor_ratio)),
                 (f"{floor} ÷ bare server CPU per request", shown(floor_cpu)),
                 (f"interlock ÷ {floor} server CPU per request", shown(over_floor))]
    if "layers" in results:
        layers_ratio, layers_cpu = per_turn("layers", "rps"), per_turn("layers", "server_cpu_us_per_request")
        figures["layers_ratio"], figures["layers_cpu_ratio"] = spread(layers_ratio), spread(layers_cpu)
        rows += [("app layers ÷ bare req/s", shown(layers_ratio)),
                 ("app layers ÷ bare server CPU per request", shown(layers_cpu))]
    figures["target"] = {"ratio": TARGET, "cpu_ratio": TARGET_CPU}
    figures["met"] = (met(median(ratio), TARGET, at_most=False) and met(median(cpu_ratio), TARGET_CPU)
                      and figures["interlock"]["errors"] == 0)
    rows.append((f"target req/s ratio ≥ {TARGET}, CPU ratio ≤ {TARGET_CPU} (medians)",
                 "met" if figures["met"] else "NOT met"))
    report("api readiness throughput", rows, figures)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bare-server":
        serve_bare(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] in FLOOR_SERVERS:
        serve_floor(sys.argv[2], FLOOR_SERVERS[sys.argv[1]])
    elif len(sys.argv) == 3 and sys.argv[1] == "--app-layers-server":
        serve_app_layers(sys.argv[2])
    else:
        asyncio.run(main())
