"""Tracing's cost: off (no OTEL_* variables: core's no-op port) and on (OpenTelemetry's SDK, spans
and metrics exported over OTLP/HTTP to a sink in another process), in the same process, in turns
whose order rotates.

Three measurements, CPU (``time.process_time``: every thread of this process, so the SDK's export
thread counts):

* one ``with span(...)`` as the control path writes it (three attributes, one ``set``), off and
  on, against the same loop without it (the baseline);
* ``engine.evaluate`` of a pipeline of 3 pushed traits (no evaluator process: the engine and its
  SQLite store only, where tracing's share is largest), off and on;
* ``engine.evaluate`` of a pipeline of 3 trivial ``/bin/sh`` evaluators (what an evaluation usually
  is: processes), off and on;
* Interlock's ASGI app answering a readiness GET in process (every middleware, the server span,
  the route), off and on.

Target (issue 23): off costs about nothing — the no-op span is well under a microsecond and
``evaluate`` off is within the noise of a build without tracing; on is reported, no threshold.
Needs ``interlock[otel]`` for the "on" figures (without it only "off" is measured).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

from _support import (
    PASS_SCRIPT,
    archetype,
    arguments,
    asgi_call,
    open_engine,
    pipeline,
    report,
    rotated,
    shown,
    spread,
    workspace,
    write_script,
)
from _support import write_project as write_bench_project

from interlock_core import tracing
from interlock_core.metrics import METRICS
from interlock_server.app import create_app

TRAITS = ["freshness", "volume", "schema"]
PIPELINE = "bench-tracing"
SPAWNING = "bench-tracing-processes"
KEY = "bench-tracing-key"
SINK = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
server = HTTPServer(("127.0.0.1", 0), Sink)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def span_loop(count: int, traced: bool) -> float:
    """CPU seconds per iteration of a loop whose body is the control path's span (or nothing but
    the attribute values it would compute)."""
    name, trait = "bench", "freshness"
    started = time.process_time()
    if traced:
        for _ in range(count):
            with tracing.span("interlock.trait", **{"interlock.pipeline": name, "interlock.trait": trait,
                                                    "interlock.trait.required": True}) as span:
                span.set(**{"interlock.status": "PASS"})
    else:
        for _ in range(count):
            _ = (name, trait, True, "PASS")
    return (time.process_time() - started) / count


class Switch:
    """Tracing and the metrics mirror on or off, in this process."""

    def __init__(self) -> None:
        self.sink: subprocess.Popen[str] | None = None
        self.installed: Any = None
        self.tracer: Any = None
        self.hook: Any = None

    def start(self) -> bool:
        try:
            from interlock_server import otel
        except ImportError:
            return False
        self.sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
        assert self.sink.stdout is not None
        port = self.sink.stdout.readline().strip()
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
        os.environ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000"
        os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = "100000"  # every span is exported: none dropped to save time
        self.installed = otel.install()
        self.tracer, self.hook = tracing.installed(), METRICS.hook
        self.set(False)
        return True

    def set(self, on: bool) -> None:
        tracing.install(self.tracer if on else None)
        METRICS.hook = self.hook if on else None

    def stop(self) -> None:
        if self.installed is not None:
            self.set(True)
            self.installed.shutdown()
        if self.sink is not None:
            self.sink.kill()
            self.sink.wait()



async def measure(args: Any, spans: int, evaluations: int, processes: int, requests: int,
                  reps: int) -> dict[str, list[float]]:
    switch = Switch()
    modes = ["off", "on"] if switch.start() else ["off"]
    whats = ("span", "evaluate", "processes", "request")
    cpu: dict[str, list[float]] = {f"{what}_{mode}": [] for what in whats for mode in modes}
    cpu["span_baseline"] = []
    try:
        with workspace(args.store_dir, "tracing") as root:
            script = str(write_script(root / "evaluators", "pass", PASS_SCRIPT))
            write_bench_project(root, [archetype("three", TRAITS)],
                                pipelines=[pipeline(PIPELINE, "three", dict.fromkeys(TRAITS)),
                                           pipeline(SPAWNING, "three", dict.fromkeys(TRAITS, script))])
            engine = await open_engine(root)
            try:
                for trait in TRAITS:
                    await engine.push_trait(PIPELINE, trait, "PASS")
                app = create_app(engine, env={"INTERLOCK_API_KEY": KEY}, access_log=False)
                scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                         "scheme": "http", "path": f"/api/pipelines/{PIPELINE}/readiness", "raw_path": b"",
                         "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8080),
                         "client": ("127.0.0.1", 50000),
                         "headers": [(b"host", b"127.0.0.1:8080"), (b"x-api-key", KEY.encode())]}
                for mode in modes:  # warm-up
                    switch.set(mode == "on")
                    for _ in range(min(evaluations, 50)):
                        await engine.evaluate(PIPELINE)
                        assert await asgi_call(app, dict(scope)) == 200
                for turn in range(reps):
                    for mode in rotated(modes, turn):
                        switch.set(mode == "on")
                        cpu[f"span_{mode}"].append(span_loop(spans, traced=True))
                        started = time.process_time()
                        for _ in range(evaluations):
                            await engine.evaluate(PIPELINE)
                        cpu[f"evaluate_{mode}"].append((time.process_time() - started) / evaluations)
                        started = time.process_time()
                        for _ in range(processes):
                            await engine.evaluate(SPAWNING)
                        cpu[f"processes_{mode}"].append((time.process_time() - started) / processes)
                        started = time.process_time()
                        for _ in range(requests):
                            await asgi_call(app, dict(scope))
                        cpu[f"request_{mode}"].append((time.process_time() - started) / requests)
                    cpu["span_baseline"].append(span_loop(spans, traced=False))
            finally:
                switch.set(False)
                await engine.aclose()
    finally:
        switch.stop()
    return cpu


def main() -> None:
    args = arguments(__doc__ or "", [
        ("--reps", {"type": int, "default": None, "help": "turns (default 5)"}),
    ])
    spans = 2000 if args.quick else 20_000
    evaluations = 20 if args.quick else 1000
    processes = 5 if args.quick else 200
    requests = 50 if args.quick else 3000
    reps = args.reps or (1 if args.quick else 5)
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            del os.environ[name]
    cpu = asyncio.run(measure(args, spans, evaluations, processes, requests, reps))
    on = "span_on" in cpu
    rows: list[tuple[str, Any]] = [
        ("sizes per turn (spans, evaluations, with processes, requests), turns",
         f"{spans}, {evaluations}, {processes}, {requests}; {reps}"),
        ("no-op span (off), CPU ns per span", shown([a - b for a, b in zip(cpu["span_off"], cpu["span_baseline"],
                                                                         strict=True)], 1e9, 3)),
        ("engine.evaluate, 3 pushed traits, off, CPU µs", shown(cpu["evaluate_off"], 1e6, 4)),
        ("engine.evaluate, 3 /bin/sh evaluators, off, CPU µs", shown(cpu["processes_off"], 1e6, 4)),
        ("readiness GET in process, off, CPU µs", shown(cpu["request_off"], 1e6, 4)),
    ]
    figures: dict[str, Any] = {"spans": spans, "evaluations": evaluations, "processes": processes,
                               "requests": requests, "reps": reps,
                               "processes_off_us": [v * 1e6 for v in spread(cpu["processes_off"])],
                               "noop_span_ns": [v * 1e9 for v in spread(
                                   [a - b for a, b in zip(cpu["span_off"], cpu["span_baseline"], strict=True)])],
                               "evaluate_off_us": [v * 1e6 for v in spread(cpu["evaluate_off"])],
                               "request_off_us": [v * 1e6 for v in spread(cpu["request_off"])]}
    if on:
        evaluate_ratio = [a / b for a, b in zip(cpu["evaluate_on"], cpu["evaluate_off"], strict=True)]
        request_ratio = [a / b for a, b in zip(cpu["request_on"], cpu["request_off"], strict=True)]
        process_ratio = [a / b for a, b in zip(cpu["processes_on"], cpu["processes_off"], strict=True)]
        rows += [
            ("OpenTelemetry span (on), CPU µs per span", shown(cpu["span_on"], 1e6, 3)),
            ("engine.evaluate, on, CPU µs", shown(cpu["evaluate_on"], 1e6, 4)),
            ("engine.evaluate on ÷ off", shown(evaluate_ratio)),
            ("engine.evaluate, 3 /bin/sh evaluators, on, CPU µs", shown(cpu["processes_on"], 1e6, 4)),
            ("engine.evaluate with processes on ÷ off", shown(process_ratio)),
            ("readiness GET, on, CPU µs", shown(cpu["request_on"], 1e6, 4)),
            ("readiness GET on ÷ off", shown(request_ratio)),
        ]
        figures.update({"span_on_us": [v * 1e6 for v in spread(cpu["span_on"])],
                        "evaluate_on_us": [v * 1e6 for v in spread(cpu["evaluate_on"])],
                        "evaluate_ratio": spread(evaluate_ratio),
                        "processes_on_us": [v * 1e6 for v in spread(cpu["processes_on"])],
                        "processes_ratio": spread(process_ratio),
                        "request_on_us": [v * 1e6 for v in spread(cpu["request_on"])],
                        "request_ratio": spread(request_ratio)})
    report("tracing", rows, figures)


if __name__ == "__main__":
    main()
